"""Landlock (Linux ≥ 5.13): an unprivileged process restricts itself and its descendants.

``restrict(write_paths, read_paths)`` allows writing only beneath ``write_paths`` and
reading only beneath ``read_paths`` (plus the write paths), forbids executing programs,
and, where the kernel supports it, forbids TCP bind/connect and signals or abstract unix
sockets to processes outside the sandbox.  It returns a short description of what was
applied, or of why nothing was.

Standard library only: the grader's sandbox runner loads this file by path.
"""

import ctypes
import os
import platform

SYS_CREATE_RULESET = 444   # the same number on x86_64 and aarch64 (syscall table since 5.13)
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
PR_SET_NO_NEW_PRIVS = 38
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

EXECUTE, READ_FILE, READ_DIR = 1 << 0, 1 << 2, 1 << 3
READ_RIGHTS = READ_FILE | READ_DIR
# filesystem rights that change something
WRITE_RIGHTS_BY_ABI = {
    1: (1 << 1) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10)
       | (1 << 11) | (1 << 12),
    2: 1 << 13,  # REFER (rename/link across directories)
    3: 1 << 14,  # TRUNCATE
    5: 1 << 15,  # IOCTL_DEV
}
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1                       # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1             # ABI 6


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def restrict(write_paths, read_paths):
    if platform.system() != "Linux":
        return "unavailable (not Linux)"
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                       ctypes.c_uint32(CREATE_RULESET_VERSION))
    if abi < 1:
        return f"unavailable (Landlock: {os.strerror(ctypes.get_errno())})"
    write = sum(bits for version, bits in WRITE_RIGHTS_BY_ABI.items() if abi >= version)
    attr = _RulesetAttr(write | READ_RIGHTS | EXECUTE, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    fd = libc.syscall(SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                      ctypes.c_uint32(0))
    if fd < 0:
        return f"unavailable (create_ruleset: {os.strerror(ctypes.get_errno())})"
    try:
        rules = [(p, write | READ_RIGHTS) for p in write_paths] + [(p, READ_RIGHTS) for p in read_paths]
        for path, rights in rules:
            try:
                path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path that does not exist here needs no rule
            try:
                if not os.path.isdir(path):
                    rights &= READ_FILE | (write & ((1 << 1) | (1 << 14)))  # file rights only
                rule = _PathBeneathAttr(rights, path_fd)
                if libc.syscall(SYS_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(RULE_PATH_BENEATH),
                                ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    return f"unavailable (add_rule {path}: {os.strerror(ctypes.get_errno())})"
            finally:
                os.close(path_fd)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return f"unavailable (no_new_privs: {os.strerror(ctypes.get_errno())})"
        if libc.syscall(SYS_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            return f"unavailable (restrict_self: {os.strerror(ctypes.get_errno())})"
    finally:
        os.close(fd)
    applied = ["writes only in the work folder", "reads only of Python and numpy", "no programs"]
    if abi >= 4:
        applied.append("no TCP")
    if abi >= 6:
        applied.append("no signals to outside processes")
    return f"Landlock ABI {abi}: " + ", ".join(applied)
