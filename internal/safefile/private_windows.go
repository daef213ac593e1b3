package safefile

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// private checks that the file at path is the user's and that no one else
// may write it, by its owner and DACL.
func private(path string, fi os.FileInfo) error { return Check(path, fi, false) }

// openNonblock: Windows has no named pipes in the file namespace.
const openNonblock = 0

// fileDeleteChild (a folder's right to delete what is in it) is not
// among x/sys/windows' constants.
const fileDeleteChild = 0x40

// Rights that change a file or folder (or its ACL), and that read one.
const (
	writeRights = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.FILE_WRITE_EA |
		fileDeleteChild | windows.FILE_WRITE_ATTRIBUTES | windows.DELETE |
		windows.WRITE_DAC | windows.WRITE_OWNER | windows.GENERIC_WRITE | windows.GENERIC_ALL
	readRights = windows.FILE_READ_DATA | windows.GENERIC_READ | windows.GENERIC_ALL
)

// trusted are the accounts besides the user that may hold rights: the
// system, and administrators (who can take any file anyway).
func trusted(sid, user *windows.SID) bool {
	return sid.Equals(user) || sid.IsWellKnown(windows.WinLocalSystemSid) ||
		sid.IsWellKnown(windows.WinBuiltinAdministratorsSid)
}

func exposure(path string, fi os.FileInfo, secret bool) (problem, fix string) {
	if fi == nil {
		fi, _ = os.Stat(path)
	}
	isDir := fi == nil || fi.IsDir()
	inherit := "(OI)(CI)" // a folder's entries pass on to what it holds
	if !isDir {
		inherit = ""
	}
	fix = fmt.Sprintf(`icacls "%s" /inheritance:r /grant:r "%%USERNAME%%:%sF" "SYSTEM:%sF" "Administrators:%sF"`, path, inherit, inherit, inherit)
	user, err := currentUser()
	if err != nil {
		return "cannot be checked: " + err.Error(), "check who runs the proxy"
	}
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return "has a security descriptor that cannot be read: " + err.Error(), fix
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return "has no owner", fix
	}
	if !trusted(owner, user) {
		return fmt.Sprintf("belongs to %s, not to you (%s)", account(owner), account(user)),
			`takeown /f "` + path + `", or use another ICA_HOME`
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		// A NULL DACL grants everyone everything.
		return "has no access list: every user may read and write it", fix
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return "has an access list that cannot be read: " + err.Error(), fix
		}
		switch ace.Header.AceType {
		case windows.ACCESS_DENIED_ACE_TYPE:
			continue // a denial opens nothing
		case windows.ACCESS_ALLOWED_ACE_TYPE:
		default:
			// Conditional (callback) and object entries grant too, under
			// terms not judged here: refused rather than guessed at.
			return fmt.Sprintf("has an access list entry of a kind not checked here (type %d); only plain allow and deny entries are", ace.Header.AceType), fix
		}
		sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
		if ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			// An entry for what a folder will hold: it matters for a
			// folder (the files the proxy makes there), not for a file.
			// CREATOR OWNER there is whoever makes the file: the user.
			if !isDir || sid.IsWellKnown(windows.WinCreatorOwnerSid) {
				continue
			}
		}
		if trusted(sid, user) {
			continue
		}
		if ace.Mask&writeRights != 0 {
			return fmt.Sprintf("is writable by %s (access list)", account(sid)), fix
		}
		if secret && ace.Mask&readRights != 0 && !underWine() {
			return fmt.Sprintf("can be read by %s (access list)", account(sid)), fix
		}
	}
	return "", ""
}

// MakePrivate gives path an access list of its own (not inherited) that
// lets in only the user, the system and administrators; a folder's passes
// on to what is created in it. It is how $ICA_HOME and the token store are
// made private on Windows, where a file's mode bits mean nothing.
func MakePrivate(path string) error {
	if problem, _ := exposure(path, nil, true); problem == "" {
		// Already the user's alone (inherited from a private profile
		// folder, say): left as it is. Wine also maps an access list
		// it is given onto unix modes loosely, wider than it was.
		return nil
	}
	acl, err := privateACL()
	if err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION, nil, nil, acl, nil); err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	return nil
}

// CreatePrivate creates the new file path for reading and writing, with
// the private access list from the start (no moment when the folder's
// inherited list applies) and shared with no other handle while open.
func CreatePrivate(path string) (*os.File, error) {
	acl, err := privateACL()
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	sd, err := windows.NewSecurityDescriptor()
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := sd.SetDACL(acl, true, false); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := sd.SetControl(windows.SE_DACL_PROTECTED, windows.SE_DACL_PROTECTED); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	name, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	sa := &windows.SecurityAttributes{SecurityDescriptor: sd}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	h, err := windows.CreateFile(name, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, sa,
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}

// privateACL lets in the user, the system and administrators, and passes
// itself on to what a folder holds.
func privateACL() (*windows.ACL, error) {
	user, err := currentUser()
	if err != nil {
		return nil, err
	}
	entry := func(t windows.TRUSTEE_TYPE, v windows.TrusteeValue) windows.EXPLICIT_ACCESS {
		return windows.EXPLICIT_ACCESS{
			AccessPermissions: windows.GENERIC_ALL,
			AccessMode:        windows.GRANT_ACCESS,
			Inheritance:       windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT,
			Trustee:           windows.TRUSTEE{TrusteeForm: windows.TRUSTEE_IS_SID, TrusteeType: t, TrusteeValue: v},
		}
	}
	system, err := windows.CreateWellKnownSid(windows.WinLocalSystemSid)
	if err != nil {
		return nil, err
	}
	admins, err := windows.CreateWellKnownSid(windows.WinBuiltinAdministratorsSid)
	if err != nil {
		return nil, err
	}
	return windows.ACLFromEntries([]windows.EXPLICIT_ACCESS{
		entry(windows.TRUSTEE_IS_USER, windows.TrusteeValueFromSID(user)),
		entry(windows.TRUSTEE_IS_WELL_KNOWN_GROUP, windows.TrusteeValueFromSID(system)),
		entry(windows.TRUSTEE_IS_WELL_KNOWN_GROUP, windows.TrusteeValueFromSID(admins)),
	}, nil)
}

// underWine says whether this runs under Wine, which makes each file's
// access list from its unix mode and back, loosely: a private list given
// to a file becomes mode 0775, read back as "Everyone may read". Under
// Wine reading is therefore not checked (writing still is); the host's
// modes are what protect the files there.
var underWine = sync.OnceValue(func() bool {
	ntdll := windows.NewLazySystemDLL("ntdll.dll")
	return ntdll.NewProc("wine_get_version").Find() == nil
})

func currentUser() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("read this process's user: %w", err)
	}
	return tu.User.Sid, nil
}

// account names sid as DOMAIN\name where Windows knows it, else S-1-....
func account(sid *windows.SID) string {
	if name, domain, _, err := sid.LookupAccount(""); err == nil {
		if domain != "" {
			return domain + `\` + name
		}
		return name
	}
	return sid.String()
}

// AccessSummary says in a few words who may use a private file or folder:
// the mode Go reports on Windows means nothing.
func AccessSummary(os.FileInfo) string {
	return "access list: you, SYSTEM and Administrators only"
}
