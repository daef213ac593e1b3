package sdk

import (
	"context"
	"time"

	"github.com/hashicorp/go-plugin"
)

// This file is the host's side of the contract. Plugin authors do not need
// it; the proxy's core and package sdktest use it.

// HostPluginSet is the go-plugin PluginSet a host dispenses from. Dispensing
// "info" yields an InfoClient, "transport" a TransportClient and "auth" an
// AuthClient.
func HostPluginSet() plugin.PluginSet {
	return plugin.PluginSet{
		pluginNameInfo:      &infoPlugin{},
		pluginNameTransport: &transportPlugin{},
		pluginNameAuth:      &authPlugin{},
	}
}

// DispenseAuth returns the AuthClient of a started auth plugin.
func DispenseAuth(c plugin.ClientProtocol) (AuthClient, error) {
	raw, err := c.Dispense(pluginNameAuth)
	if err != nil {
		return nil, err
	}
	return raw.(AuthClient), nil
}

// DispenseInfo returns the InfoClient of a started plugin.
func DispenseInfo(c plugin.ClientProtocol) (InfoClient, error) {
	raw, err := c.Dispense(pluginNameInfo)
	if err != nil {
		return nil, err
	}
	return raw.(InfoClient), nil
}

// DispenseTransport returns the TransportClient of a started plugin.
func DispenseTransport(c plugin.ClientProtocol) (TransportClient, error) {
	raw, err := c.Dispense(pluginNameTransport)
	if err != nil {
		return nil, err
	}
	return raw.(TransportClient), nil
}

// InfoClient asks a plugin what it is.
type InfoClient interface {
	Info(ctx context.Context) (Info, error)
}

// TransportClient is the host's handle on a transport plugin.
type TransportClient interface {
	// Open starts a session and waits until the plugin reports it ready.
	// ctx bounds the opening only; the session lasts until it ends or is
	// closed. If the upstream could not be started, the error is an
	// *ExitedError carrying what the plugin reported.
	Open(ctx context.Context, spec SessionSpec) (ClientSession, error)
}

// ClientSession is the host's end of one session.
type ClientSession interface {
	// Ready is the event that opened the session.
	Ready() Ready
	// Send passes JSON-RPC messages to the upstream, in order. It is safe
	// for concurrent use: messages sent by goroutines at the same moment
	// travel in one frame. The caller must not change msgs afterwards,
	// since another goroutine may send them after Send has returned.
	Send(msgs ...[]byte) error
	// Recv returns the next frame from the plugin: a message or an event.
	// After the Exited event it returns io.EOF. Any other error means the
	// plugin connection broke (the plugin crashed). Call it from one
	// goroutine.
	Recv() (Frame, error)
	// Close asks the plugin to shut the upstream down, giving it grace to
	// exit on its own (0: the plugin's default). Keep calling Recv to see
	// the Exited event.
	Close(grace time.Duration) error
	// Abort ends the session at once, without waiting for anything. The
	// plugin still shuts the upstream down.
	Abort()
}

// Frame is what Recv returns: one or more messages, or an event.
type Frame struct {
	Messages [][]byte
	Event    Event
}

// ExitedError is returned by Open when the upstream ended before it was
// ready.
type ExitedError struct {
	Exited Exited
}

func (e *ExitedError) Error() string {
	return describeExited(e.Exited)
}
