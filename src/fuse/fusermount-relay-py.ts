// The Python side of unprivileged mounting (see fusermount-relay.ts). Node.js cannot receive a
// file descriptor over SCM_RIGHTS, which is the only way the setuid fusermount3 hands out the
// /dev/fuse fd of a user mount, so this small relay receives it and moves whole FUSE messages
// between the device and its stdin/stdout. Each message starts with its own u32 length (in
// fuse_in_header and fuse_out_header alike), which is the framing on the pipes.
export const FUSERMOUNT_RELAY_PY = String.raw`
import os, queue, socket, struct, subprocess, sys, threading

mountpoint, options, bufsize = sys.argv[1], sys.argv[2], int(sys.argv[3])
parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
env = dict(os.environ, _FUSE_COMMFD=str(child.fileno()))
proc = subprocess.Popen(["fusermount3", "-o", options, "--", mountpoint], env=env,
                        pass_fds=(child.fileno(),), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
child.close()
fuse_fd = -1
try:
    msg, fds, _flags, _addr = socket.recv_fds(parent, 16, 1)
    if fds:
        fuse_fd = fds[0]
except OSError:
    pass
err = proc.stderr.read().decode(errors="replace").strip()
rc = proc.wait()
if fuse_fd < 0 or rc != 0:
    sys.stderr.write("fusermount3 failed (exit %d): %s\n" % (rc, err))
    sys.exit(3)
sys.stderr.write("mounted\n")
sys.stderr.flush()
out = sys.stdout.buffer

def from_kernel():
    while True:
        try:
            data = os.read(fuse_fd, bufsize)
        except InterruptedError:
            continue
        except OSError as e:
            if e.errno == 2:  # ENOENT: an aborted request, safe to read again
                continue
            os._exit(0)  # ENODEV: unmounted
        out.write(data)
        out.flush()

notices = queue.SimpleQueue()

def notifier():
    # Notifications (unique 0) may block in the kernel until a request queued to the server is
    # answered: they are written here, in order, so the replies behind them keep flowing.
    while True:
        msg = notices.get()
        try:
            os.write(fuse_fd, msg)
        except OSError:
            pass  # ENOENT: nothing cached; ENODEV: unmounted

threading.Thread(target=from_kernel, daemon=True).start()
threading.Thread(target=notifier, daemon=True).start()
inp = sys.stdin.buffer
while True:
    head = inp.read(4)
    if len(head) < 4:
        os._exit(0)
    (n,) = struct.unpack("<I", head)
    rest = inp.read(n - 4)
    if len(rest) < n - 4:
        os._exit(0)
    if rest[4:12] == bytes(8):
        notices.put(head + rest)
        continue
    try:
        os.write(fuse_fd, head + rest)
    except OSError:
        pass  # ENOENT: the request was interrupted and answered already
`;
