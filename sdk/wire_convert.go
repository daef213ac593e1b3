package sdk

import (
	transportv1 "github.com/ica-mcp-proxy/ica-mcp-proxy/proto/ica/transport/v1"
)

// Conversions between the sdk's Go types and the wire types. Nothing else
// in the sdk touches generated code.

func specToProto(s SessionSpec) *transportv1.Open {
	return &transportv1.Open{
		Server:      s.Server,
		Transport:   s.Transport,
		Command:     s.Command,
		Args:        s.Args,
		Env:         s.Env,
		Cwd:         s.Cwd,
		Url:         s.URL,
		Headers:     s.Headers,
		TimeoutMs:   s.TimeoutMillis,
		OptionsJson: s.Options,
		DpopKey:     s.DPoPKey,
	}
}

func specFromProto(o *transportv1.Open) SessionSpec {
	return SessionSpec{
		Server:        o.GetServer(),
		Transport:     o.GetTransport(),
		Command:       o.GetCommand(),
		Args:          o.GetArgs(),
		Env:           o.GetEnv(),
		Cwd:           o.GetCwd(),
		URL:           o.GetUrl(),
		Headers:       o.GetHeaders(),
		TimeoutMillis: o.GetTimeoutMs(),
		Options:       o.GetOptionsJson(),
		DPoPKey:       o.GetDpopKey(),
	}
}

func eventToProto(ev Event) *transportv1.Event {
	switch e := ev.(type) {
	case Ready:
		return &transportv1.Event{Event: &transportv1.Event_Ready{Ready: &transportv1.Ready{Detail: e.Detail, DataPath: e.dataPath}}}
	case Exited:
		return &transportv1.Event{Event: &transportv1.Event_Exited{Exited: &transportv1.Exited{
			ExitCode:   int32(e.ExitCode),
			Signal:     e.Signal,
			StderrTail: e.StderrTail,
			Reason:     e.Reason,
		}}}
	case AuthRequired:
		return &transportv1.Event{Event: &transportv1.Event_AuthRequired{AuthRequired: &transportv1.AuthRequired{
			WwwAuthenticate: e.WWWAuthenticate,
			Status:          int32(e.Status),
		}}}
	case SessionExpired:
		return &transportv1.Event{Event: &transportv1.Event_SessionExpired{SessionExpired: &transportv1.SessionExpired{Detail: e.Detail}}}
	case Unsupported:
		return &transportv1.Event{Event: &transportv1.Event_Unsupported{Unsupported: &transportv1.Unsupported{
			Status: int32(e.Status),
			Detail: e.Detail,
		}}}
	}
	return &transportv1.Event{}
}

func eventFromProto(ev *transportv1.Event) Event {
	switch e := ev.GetEvent().(type) {
	case *transportv1.Event_Ready:
		return Ready{Detail: e.Ready.GetDetail(), dataPath: e.Ready.GetDataPath()}
	case *transportv1.Event_Exited:
		return Exited{
			ExitCode:   int(e.Exited.GetExitCode()),
			Signal:     e.Exited.GetSignal(),
			StderrTail: e.Exited.GetStderrTail(),
			Reason:     e.Exited.GetReason(),
		}
	case *transportv1.Event_AuthRequired:
		return AuthRequired{WWWAuthenticate: e.AuthRequired.GetWwwAuthenticate(), Status: int(e.AuthRequired.GetStatus())}
	case *transportv1.Event_SessionExpired:
		return SessionExpired{Detail: e.SessionExpired.GetDetail()}
	case *transportv1.Event_Unsupported:
		return Unsupported{Status: int(e.Unsupported.GetStatus()), Detail: e.Unsupported.GetDetail()}
	}
	// An event this sdk does not know: a newer plugin. Treat it as nothing.
	return nil
}
