// The Python half of the POSIX suite: system calls Node.js does not offer (SEEK_DATA/SEEK_HOLE,
// fallocate modes, renameat2 flags, fcntl/flock locks held by a second process, mmap, O_DIRECT
// with aligned buffers, xattr flags, statvfs, utimensat with nanoseconds, O_TMPFILE,
// copy_file_range, privilege dropping) as one script with subcommands.
//
// Protocol: `python3 helper.py [--as UID:GID] CMD JSON-ARGS` prints one JSON line: {"ok": ...}
// with the result, or {"errno": "ENAME"} when the call failed with an OSError. Long-lived
// commands (lock holders, blocked readers) print progress lines first ("locked", "waiting") and
// the JSON line last. Kept as a string so the compiled suite can write it wherever it runs.
export const POSIX_HELPER_PY = String.raw`
import ctypes, ctypes.util, errno, fcntl, json, mmap, os, random, signal, struct, sys, time

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)

def ename(n):
    # Linux gives EOPNOTSUPP and ENOTSUP (and EAGAIN/EWOULDBLOCK) one number; report one name.
    name = errno.errorcode.get(n, str(n))
    return {"ENOTSUP": "EOPNOTSUPP", "EWOULDBLOCK": "EAGAIN"}.get(name, name)

def oserr(e):
    return {"errno": ename(e.errno)}

def check(rc):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

def wait_stdin():
    # The parent closes our stdin (or writes a line) to say "release now".
    sys.stdin.readline()

def c_seek(a):
    fd = os.open(a["path"], os.O_RDONLY)
    out = []
    try:
        for whence, off in a["queries"]:
            w = os.SEEK_DATA if whence == "data" else os.SEEK_HOLE
            try:
                out.append(os.lseek(fd, off, w))
            except OSError as e:
                out.append(ename(e.errno))
    finally:
        os.close(fd)
    return out

def c_fallocate(a):
    fd = os.open(a["path"], os.O_RDWR)
    try:
        libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        check(libc.fallocate(fd, a["mode"], a["off"], a["len"]))
    finally:
        os.close(fd)
    return True

def c_posix_fallocate(a):
    fd = os.open(a["path"], os.O_RDWR)
    try:
        os.posix_fallocate(fd, a["off"], a["len"])
    finally:
        os.close(fd)
    return True

def c_renameat2(a):
    AT_FDCWD = -100
    libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    check(libc.renameat2(AT_FDCWD, a["old"].encode(), AT_FDCWD, a["new"].encode(), a["flags"]))
    return True

def lock_struct(kind, start, length):
    # struct flock on x86_64/aarch64: short type, short whence, off_t start, off_t len, pid_t pid
    t = {"r": fcntl.F_RDLCK, "w": fcntl.F_WRLCK, "u": fcntl.F_UNLCK}[kind]
    return struct.pack("hhqqi4x", t, 0, start, length, 0)

def c_lockhold(a):
    # Takes locks (fcntl byte ranges or flock) and holds them until stdin says release.
    fd = os.open(a["path"], os.O_RDWR)
    for l in a["locks"]:
        if l["type"] == "flock":
            fcntl.flock(fd, {"sh": fcntl.LOCK_SH, "ex": fcntl.LOCK_EX}[l["mode"]])
        else:
            fcntl.fcntl(fd, fcntl.F_SETLK, lock_struct(l["kind"], l["start"], l["len"]))
    say("locked %d" % os.getpid())
    for step in a.get("then", []):
        wait_stdin()
        if step["type"] == "unlock":
            fcntl.fcntl(fd, fcntl.F_SETLK, lock_struct("u", step["start"], step["len"]))
        elif step["type"] == "close-other-fd":
            # POSIX: closing ANY descriptor of the file drops all of this process's locks on it.
            fd2 = os.open(a["path"], os.O_RDONLY)
            os.close(fd2)
        say("done")
    wait_stdin()
    os.close(fd)
    return True

def c_locktry(a):
    # Tries locks without blocking; reports each outcome ("ok" or errno name).
    fd = os.open(a["path"], os.O_RDWR)
    out = []
    try:
        for l in a["locks"]:
            try:
                if l["type"] == "flock":
                    fcntl.flock(fd, {"sh": fcntl.LOCK_SH, "ex": fcntl.LOCK_EX}[l["mode"]] | fcntl.LOCK_NB)
                    out.append("ok")
                elif l["type"] == "getlk":
                    r = fcntl.fcntl(fd, fcntl.F_GETLK, lock_struct(l["kind"], l["start"], l["len"]))
                    t, _w, s, n, pid = struct.unpack("hhqqi4x", r)
                    out.append({"type": {fcntl.F_RDLCK: "r", fcntl.F_WRLCK: "w", fcntl.F_UNLCK: "u"}[t], "start": s, "len": n, "pid": pid})
                else:
                    fcntl.fcntl(fd, fcntl.F_SETLK, lock_struct(l["kind"], l["start"], l["len"]))
                    out.append("ok")
            except OSError as e:
                out.append(ename(e.errno))
    finally:
        os.close(fd)
    return out

class Interrupted(Exception):
    pass

def on_signal(signum, frame):
    # Raising makes Python give up the syscall that returned EINTR instead of retrying it (PEP 475).
    raise Interrupted()

def c_blocked(a):
    # Blocks in a lock wait or a read until a SIGUSR1 arrives; reports how the call ended.
    signal.signal(signal.SIGUSR1, on_signal)
    fd = os.open(a["path"], os.O_RDWR if a["op"] != "read" else os.O_RDONLY)
    say("waiting %d" % os.getpid())
    t0 = time.monotonic()
    try:
        if a["op"] == "setlkw":
            fcntl.fcntl(fd, fcntl.F_SETLKW, lock_struct("w", 0, 0))
            r = "acquired"
        elif a["op"] == "flock":
            fcntl.flock(fd, fcntl.LOCK_EX)
            r = "acquired"
        else:
            os.read(fd, 4096)
            r = "read"
    except Interrupted:
        r = "interrupted"
    os.close(fd)
    return {"result": r, "seconds": time.monotonic() - t0}

def c_mmap(a):
    # Writes through a shared mapping, syncs and unmaps; then reads it back through read(2).
    size = a["size"]
    fd = os.open(a["path"], os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, size)
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    rnd = random.Random(a["seed"])
    data = bytes(rnd.getrandbits(8) for _ in range(size))
    m[:] = data
    if a.get("msync", True):
        m.flush()
    m.close()
    os.close(fd)
    fd = os.open(a["path"], os.O_RDONLY)
    back = b""
    while len(back) < size:
        chunk = os.read(fd, size - len(back))
        if not chunk:
            break
        back += chunk
    os.close(fd)
    # And the other way: data written with write(2) seen through a fresh mapping.
    fd = os.open(a["path"], os.O_RDWR)
    os.pwrite(fd, b"written-by-pwrite", 100)
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
    seen = m[100:117]
    m.close()
    os.close(fd)
    return {"same": back == data, "mapped": seen.decode("latin-1")}

def c_odirect(a):
    # O_DIRECT write and read with page-aligned buffers (anonymous mappings are page aligned).
    size = a["size"]
    fd = os.open(a["path"], os.O_RDWR | os.O_CREAT | os.O_DIRECT, 0o644)
    buf = mmap.mmap(-1, size)
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(size))
    buf[:] = pattern
    n = os.pwritev(fd, [buf], 0)
    rbuf = mmap.mmap(-1, size)
    m = os.preadv(fd, [rbuf], 0)
    same = rbuf[:] == pattern
    os.close(fd)
    fd = os.open(a["path"], os.O_RDONLY)
    buffered = os.read(fd, size) == pattern
    os.close(fd)
    return {"written": n, "read": m, "same": same, "buffered": buffered}

def c_xattr(a):
    out = []
    for op in a["ops"]:
        try:
            if op[0] == "set":
                flags = {"": 0, "create": os.XATTR_CREATE, "replace": os.XATTR_REPLACE}[op[3]]
                os.setxattr(a["path"], op[1], bytes.fromhex(op[2]), flags, follow_symlinks=a.get("follow", True))
                out.append("ok")
            elif op[0] == "get":
                out.append(os.getxattr(a["path"], op[1], follow_symlinks=a.get("follow", True)).hex())
            elif op[0] == "list":
                out.append(sorted(os.listxattr(a["path"], follow_symlinks=a.get("follow", True))))
            elif op[0] == "remove":
                os.removexattr(a["path"], op[1], follow_symlinks=a.get("follow", True))
                out.append("ok")
        except OSError as e:
            out.append(ename(e.errno))
    return out

def c_statvfs(a):
    s = os.statvfs(a["path"])
    return {k: getattr(s, k) for k in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree", "f_namemax")}

def c_utimens(a):
    os.utime(a["path"], ns=(a["atime"], a["mtime"]), follow_symlinks=a.get("follow", True))
    st = os.stat(a["path"], follow_symlinks=a.get("follow", True))
    return {"atime": st.st_atime_ns, "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns}

def c_tmpfile(a):
    fd = os.open(a["dir"], os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, a["data"].encode())
    nlink0 = os.fstat(fd).st_nlink
    # linkat(AT_SYMLINK_FOLLOW) through /proc: os.link would call link(2), which does not follow.
    AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
    libc.linkat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    check(libc.linkat(AT_FDCWD, ("/proc/self/fd/%d" % fd).encode(), AT_FDCWD, a["link"].encode(), AT_SYMLINK_FOLLOW))
    nlink1 = os.fstat(fd).st_nlink
    os.close(fd)
    return {"nlink0": nlink0, "nlink1": nlink1}

def c_copy_range(a):
    fi = os.open(a["src"], os.O_RDONLY)
    fo = os.open(a["dst"], os.O_RDWR | os.O_CREAT, 0o644)
    n = os.copy_file_range(fi, fo, a["len"], a["offIn"], a["offOut"])
    os.close(fi)
    os.close(fo)
    return n

def c_mknod(a):
    kinds = {"fifo": 0o010000, "chr": 0o020000, "blk": 0o060000, "sock": 0o140000}
    os.umask(0o022)
    os.mknod(a["path"], kinds[a["kind"]] | a["mode"], os.makedev(a.get("major", 0), a.get("minor", 0)))
    st = os.lstat(a["path"])
    return {"mode": st.st_mode, "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev)}

def c_ops(a):
    # A small list of simple calls, each reported separately (used to act as another user).
    out = []
    for op in a["ops"]:
        try:
            name = op[0]
            if name == "unlink": os.unlink(op[1])
            elif name == "rmdir": os.rmdir(op[1])
            elif name == "rename": os.rename(op[1], op[2])
            elif name == "chown": os.chown(op[1], op[2], op[3])
            elif name == "chmod": os.chmod(op[1], op[2])
            elif name == "utime-now": os.utime(op[1])
            elif name == "utime": os.utime(op[1], ns=(op[2], op[3]))
            elif name == "create":
                os.close(os.open(op[1], os.O_CREAT | os.O_WRONLY | os.O_EXCL, op[2]))
            elif name == "mkdir": os.mkdir(op[1], op[2])
            elif name == "read":
                with open(op[1], "rb") as f: f.read()
            elif name == "append":
                fd = os.open(op[1], os.O_WRONLY | os.O_APPEND)
                os.write(fd, op[2].encode())
                os.close(fd)
            elif name == "stat":
                st = os.lstat(op[1])
                out.append({"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid, "nlink": st.st_nlink, "size": st.st_size})
                continue
            else:
                raise ValueError("unknown op " + name)
            out.append("ok")
        except OSError as e:
            out.append(ename(e.errno))
    return out

class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64), ("d_reclen", ctypes.c_ushort),
                ("d_type", ctypes.c_ubyte), ("d_name", ctypes.c_char * 256)]

def c_readdir_raw(a):
    # Every entry as readdir(3) returns it, "." and ".." included, with d_ino and d_type
    # (tools such as ls stat entries instead of trusting d_ino).
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.readdir64.restype = ctypes.POINTER(Dirent)
    libc.readdir64.argtypes = [ctypes.c_void_p]
    libc.closedir.argtypes = [ctypes.c_void_p]
    d = libc.opendir(a["dir"].encode())
    if not d:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    out = []
    while True:
        ent = libc.readdir64(d)
        if not ent:
            break
        out.append([ent.contents.d_name.decode("utf-8", "surrogateescape"), ent.contents.d_ino, ent.contents.d_type])
    libc.closedir(d)
    return out

def c_scan_while_deleting(a):
    # Reads a directory while another part of it is removed: stable cookies mean no entry is
    # returned twice and every entry that was never removed is returned.
    seen = []
    with os.scandir(a["dir"]) as it:
        for i, e in enumerate(it):
            seen.append(e.name)
            if i == a["after"]:
                for n in a["remove"]:
                    os.unlink(os.path.join(a["dir"], n))
    return {"count": len(seen), "unique": len(set(seen)), "names": seen}

def c_fsx(a):
    # An fsx-style exerciser: random writes, reads, truncates, hole punches, zero ranges,
    # allocations, mapped writes and copies on one file, checked against an in-memory model
    # after every step that reads.
    rnd = random.Random(a["seed"])
    maxlen = a["maxSize"]
    path = a["path"]
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    model = bytearray()
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    counts = {}
    def fail(msg, step):
        os.close(fd)
        return {"failed": msg, "step": step, "seed": a["seed"], "counts": counts}
    for step in range(a["ops"]):
        op = rnd.choice(["write", "write", "read", "read", "truncate", "punch", "zero", "falloc", "mapwrite", "mapread", "copy"])
        counts[op] = counts.get(op, 0) + 1
        off = rnd.randrange(0, maxlen)
        ln = rnd.randrange(1, min(65536, maxlen - off) + 1)
        if op == "write":
            data = os.urandom(ln)
            os.pwrite(fd, data, off)
            if len(model) < off + ln:
                model.extend(bytes(off + ln - len(model)))
            model[off:off + ln] = data
        elif op == "read":
            got = os.pread(fd, ln, off)
            want = bytes(model[off:off + ln])
            if got != want:
                return fail("read mismatch at %d+%d" % (off, ln), step)
        elif op == "truncate":
            size = rnd.randrange(0, maxlen)
            os.ftruncate(fd, size)
            if size < len(model):
                del model[size:]
            else:
                model.extend(bytes(size - len(model)))
        elif op in ("punch", "zero"):
            mode = 3 if op == "punch" else 0x10 | 1
            check(libc.fallocate(fd, mode, off, ln))
            end = min(off + ln, len(model))
            if end > off:
                model[off:end] = bytes(end - off)
        elif op == "falloc":
            keep = rnd.random() < 0.5
            check(libc.fallocate(fd, 1 if keep else 0, off, ln))
            if not keep and len(model) < off + ln:
                model.extend(bytes(off + ln - len(model)))
        elif op in ("mapwrite", "mapread"):
            if len(model) == 0:
                continue
            start = rnd.randrange(0, len(model))
            n = rnd.randrange(1, min(16384, len(model) - start) + 1)
            m = mmap.mmap(fd, len(model))
            if op == "mapwrite":
                data = os.urandom(n)
                m[start:start + n] = data
                model[start:start + n] = data
                m.flush()
            elif m[start:start + n] != bytes(model[start:start + n]):
                m.close()
                return fail("mapped read mismatch at %d+%d" % (start, n), step)
            m.close()
        elif op == "copy":
            if len(model) == 0:
                continue
            src = rnd.randrange(0, len(model))
            n = rnd.randrange(1, min(65536, len(model) - src) + 1)
            dst = rnd.randrange(0, maxlen - n)
            if abs(dst - src) < n:
                continue
            fi = os.open(path, os.O_RDONLY)
            done = os.copy_file_range(fi, fd, n, src, dst)
            os.close(fi)
            if done != n:
                return fail("copy_file_range copied %d of %d" % (done, n), step)
            chunk = bytes(model[src:src + n])
            if len(model) < dst + n:
                model.extend(bytes(dst + n - len(model)))
            model[dst:dst + n] = chunk
        st = os.fstat(fd)
        if st.st_size != len(model):
            return fail("size %d != model %d after %s" % (st.st_size, len(model), op), step)
    whole = b""
    while len(whole) < len(model):
        c = os.pread(fd, len(model) - len(whole), len(whole))
        if not c:
            break
        whole += c
    os.close(fd)
    if whole != bytes(model):
        return {"failed": "final content mismatch", "seed": a["seed"], "counts": counts}
    return {"counts": counts, "size": len(model)}

def main():
    args = sys.argv[1:]
    if args and args[0] == "--as":
        uid, gid = (int(x) for x in args[1].split(":"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        args = args[2:]
    cmd, raw = args[0], (args[1] if len(args) > 1 else "{}")
    fn = globals().get("c_" + cmd.replace("-", "_"))
    if fn is None:
        say(json.dumps({"error": "unknown command " + cmd}))
        sys.exit(2)
    try:
        say(json.dumps({"ok": fn(json.loads(raw))}))
    except OSError as e:
        say(json.dumps(oserr(e)))

main()
`;
