#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The control socket under abuse: a user outside the group is refused
(by the socket's mode, and by SO_PEERCRED when the mode lets it through),
a member of the group is let in; garbage JSON gets error replies; an
over-long line is refused and the client disconnected; a client stalling
on a partial line is dropped; 200 clients at once are served or told
"busy"; through all of it the daemon stays alive and answers."""
import grp
import os
import pwd
import subprocess
import time

from blpkt import *
from test_ctl_lib import Daemon, raw, recv_line, request

USER, GROUP = "bltestctl%d" % os.getpid(), "bltestgrp%d" % os.getpid()
MAX_LINE = 131072

c = Check("ctl_robust")
subprocess.run(["groupadd", GROUP], check=True)
subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", USER], check=True)
try:
    uid, gid = pwd.getpwnam(USER).pw_uid, grp.getgrnam(GROUP).gr_gid
    outsider = ["--reuid=%d" % uid, "--regid=%d" % pwd.getpwnam(USER).pw_gid, "--clear-groups"]
    member = ["--reuid=%d" % uid, "--regid=%d" % pwd.getpwnam(USER).pw_gid, "--groups=%d" % gid]
    with Workdir("ctl-robust") as wd:
        os.chmod(wd.path, 0o755)  # the socket's own mode decides, not our temp dir's
        frames = [v4_udp("10.0.0.1", "10.0.0.2", 1000 + i, 53) for i in range(5)]
        d = Daemon(wd, "bl-it-ctl-robust", frames,
                   cfg="control: {group: %s, max_line: %d, max_clients: 64}\n" % (GROUP, MAX_LINE))
        try:
            st = os.stat(d.sock)
            c.eq("socket mode 0660", st.st_mode & 0o777, 0o660)
            c.eq("socket group", st.st_gid, gid)
            rc, out, err = d.blctl("status", user=outsider)
            c.eq("outsider: cannot connect (exit 3)", rc, 3) or print(err)
            rc, out, err = d.blctl("status", user=member)
            c.eq("group member (supplementary group): allowed", rc, 0) or print(err)
            rc, out, err = d.blctl("list", "show", "x", user=member)
            c.eq("group member: reaches the command (no policy: refused)", rc, 1)
            os.chmod(d.sock, 0o666)  # a mistaken mode: SO_PEERCRED still refuses
            rc, out, err = d.blctl("status", user=outsider)
            c.eq("outsider through a 0666 socket: refused (exit 3)", rc, 3)
            c.true("outsider: told why", "permission denied" in err) or print(err)
            c.true("refusal logged with uid", ("refused uid %d" % uid) in d.text())
            os.chmod(d.sock, 0o660)

            # garbage
            s = raw(d.sock)
            for junk, code in ((b"hello\n", "bad_json"), (b"[1,2]\n", "bad_json"),
                               (b"\x00\xff\xfe{\n", "bad_json"),
                               (b'{"v":1,"id":3}\n', "bad_request"),
                               (b'{"v":9,"id":3,"cmd":"status"}\n', "version"),
                               (b'{"v":1,"id":3,"cmd":"status","args":7}\n', "bad_request"),
                               (b'{"v":1,"id":4,"cmd":"no.such"}\n', "unknown_command"),
                               (b'{"v":1,"id":5,"cmd":"flows","args":{"limit":"x"}}\n', "bad_request"),
                               (b'{"v":1,"id":6,"cmd":"upload.chunk","args":{"upload":99}}\n', "not_found"),
                               (b'{"v":1,"id":7,"cmd":"policy.load","args":{}}\n', "bad_request")):
                s.sendall(junk)
                r = recv_line(s)
                c.eq("garbage %r: error code" % junk[:20], r and r["error"]["code"], code)
            r = request(s, "status")
            c.true("same connection still served after garbage", r and r["ok"])
            s.close()

            # an upload over the limit is refused
            s = raw(d.sock)
            r = request(s, "upload.begin", {"policy": "p", "files": [{"name": "p", "size": 1 << 40}]})
            c.eq("huge upload: too_big", r and r["error"]["code"], "too_big")
            s.close()

            # an over-long line: refused, then disconnected
            s = raw(d.sock)
            try:
                s.sendall(b"{" + b" " * (MAX_LINE + 100))
            except OSError:
                pass
            r = recv_line(s)
            c.eq("long line: too_long", r and r["error"]["code"], "too_long")
            c.eq("long line: disconnected", recv_line(s), None)
            s.close()

            # a slow client: a partial line, then nothing
            slow = raw(d.sock, timeout=20)
            slow.sendall(b'{"v":1,"id":1,"cm')
            t0 = time.monotonic()
            r = request(raw(d.sock), "status")
            c.true("served while a client stalls", r and r["ok"] and time.monotonic() - t0 < 2)
            c.eq("slow client: dropped", recv_line(slow), None)
            c.true("slow client: dropped within the line timeout", time.monotonic() - t0 < 15)
            slow.close()

            # many clients
            conns, busy = [], 0
            for i in range(200):
                conns.append(raw(d.sock))
            for s in conns:
                try:
                    s.sendall(b'{"v":1,"id":1,"cmd":"status"}\n')
                except OSError:
                    pass  # told "busy" and closed already: the reply is waiting
            ok = 0
            for s in conns:
                r = recv_line(s)
                ok += bool(r and r["ok"])
                busy += bool(r and not r["ok"] and r["error"]["code"] == "busy")
            c.eq("200 clients: 64 served, the rest told busy", (ok, busy), (64, 136))
            for s in conns:
                s.close()
            time.sleep(0.5)
            rc, out, err = d.blctl("stats", json_out=True)
            c.true("daemon alive and answering after all that", rc == 0 and d.alive())
            c.eq("traffic counted meanwhile", out["result"]["totals"]["rx"] if rc == 0 else None, len(frames))
        finally:
            rc = d.stop()
        c.eq("daemon exits cleanly", rc, 0) or print(d.text())
finally:
    subprocess.run(["userdel", USER])
    subprocess.run(["groupdel", GROUP])
c.done()
