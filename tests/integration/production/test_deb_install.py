"""Installs the CPack .deb into a throwaway root and runs it there: the issue's
"a Debian package that installs and enables cleanly", checked end to end.

The root is an overlay of `/` (upper and work directories on a tmpfs) in
private mount, network and PID namespaces (`unshare -m -n -p`, propagation
private); every step runs in it through `nsenter ... chroot`. Nothing is ever
mounted, installed or created on the host: the mounts exist only inside the
namespace, and killing its init (the holder) tears everything down. The
network namespace has only loopback, so the embedded default's
127.0.0.1:50051 cannot collide with anything on the host; the gRPC client
(deb_root_client.py) joins that network namespace only.

Offline, as in an image build: no systemd runs in the root (/run is an empty
tmpfs), so postinst creates the user and directories and enables the unit
but starts nothing; the test then starts voipd itself as user voipd.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["VOIPD_BIN"])))
WAIT = 30  # seconds; bounds for waiting on conditions, never asserted on

UNIT = "/lib/systemd/system/voipd.service"
WANTS = "/etc/systemd/system/multi-user.target.wants/voipd.service"
PACKAGED = ["/usr/sbin/voipd", "/usr/bin/voipctl", "/usr/lib/systemd/system/voipd.service",
            "/usr/lib/systemd/system/voipd.socket", "/usr/lib/sysusers.d/voipd.conf",
            "/usr/lib/tmpfiles.d/voipd.conf", "/usr/share/doc/voipd/voipd.example.yaml",
            "/usr/share/doc/voipd/operations.md", "/usr/share/doc/voipd/copyright",
            "/usr/share/doc/voipd/changelog.gz",
            "/usr/share/voipd/web/index.html",
            "/usr/share/voipd/web/app.js", "/usr/share/voipd/web/style.css"]

# Runs as the holder: pid 1 of the new PID namespace, in the new mount and
# network namespaces. $1 is a host directory to mount the tmpfs on, $2 the .deb.
# Prints "ready <host pid>" once the root is set up, then sleeps until killed.
HOLDER = r"""
set -eu
ns=$1 deb=$2 root=$1/root
mount -t tmpfs -o mode=0755 voipd-deb-test "$ns"
mkdir "$ns/upper" "$ns/work" "$root"
mount -t overlay voipd-deb-test -o "lowerdir=/,upperdir=$ns/upper,workdir=$ns/work" "$root"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount -t sysfs sysfs "$root/sys"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
cp "$deb" "$root/tmp/voipd.deb"
ip link set lo up
read -r hostpid rest < /proc/self/stat
echo "ready $hostpid"
exec sleep infinity
"""


def output(res):
    return "$ %s\n[exit %s]\n%s" % (" ".join(res.args), res.returncode, res.stdout)


def mount_ns(pid):
    try:
        return os.stat("/proc/%d/ns/mnt" % pid).st_ino
    except OSError:
        return None


def processes_in_mount_ns(inode):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and mount_ns(int(entry)) == inode:
            pids.append(int(entry))
    return pids


def host_state():
    """What the host says about voipd, before and after (must not change)."""
    def run(*cmd):
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return res.returncode, res.stdout
    return {"passwd": run("getent", "passwd", "voipd"), "group": run("getent", "group", "voipd"),
            "dpkg": run("dpkg-query", "-W", "-f=${Status}", "voipd"),
            "etc": os.path.lexists("/etc/voipd"), "unit": os.path.lexists(UNIT),
            "wants": os.path.lexists(WANTS)}


class ThrowawayRoot:
    """An overlay of / in private namespaces; `run` executes in its chroot."""

    def __init__(self, deb):
        self.tmp = tempfile.mkdtemp(prefix="voipd-deb-root-")
        self.ns_dir = os.path.join(self.tmp, "ns")
        self.root = os.path.join(self.ns_dir, "root")
        os.mkdir(self.ns_dir)
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child",
             "--propagation", "private", "sh", "-c", HOLDER, "holder", self.ns_dir, deb],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        lines = []
        for line in self.holder.stdout:
            if line.startswith("ready "):
                self.pid = int(line.split()[1])
                break
            lines.append(line)
        else:
            self.holder.wait()
            self.close()
            raise AssertionError("setting up the throwaway root failed (exit %s):\n%s"
                                 % (self.holder.returncode, "".join(lines)))
        self.ns = mount_ns(self.pid)
        if self.ns is None or self.ns == mount_ns(os.getpid()):
            self.close()
            raise AssertionError("holder %d is not in its own mount namespace" % self.pid)

    def nsenter(self, *namespaces):
        return ["nsenter", "--target", str(self.pid)] + list(namespaces) + ["--"]

    def command(self, *cmd):
        return self.nsenter("--mount", "--net", "--pid") + ["chroot", self.root] + list(cmd)

    def run(self, *cmd):
        return subprocess.run(self.command(*cmd), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)

    def popen(self, *cmd, log):
        return subprocess.Popen(self.command(*cmd), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)

    def close(self):
        """Kills the holder (pid 1 of the PID namespace, so everything in it
        dies), waits until no process is left in the mount namespace (its
        mounts go with it) and removes the host temp dir."""
        if self.holder.poll() is None:
            self.holder.kill()
        self.holder.wait()
        self.holder.stdout.close()
        ns = getattr(self, "ns", None)
        end = time.monotonic() + WAIT
        while ns is not None and processes_in_mount_ns(ns) and time.monotonic() < end:
            time.sleep(0.05)
        self.leftover = processes_in_mount_ns(ns) if ns is not None else []
        shutil.rmtree(self.tmp, ignore_errors=True)


class DebInstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.out = tempfile.TemporaryDirectory(prefix="voipd-deb-")
        res = subprocess.run(["cpack", "-G", "DEB", "-B", cls.out.name, "--config",
                              os.path.join(BUILD_DIR, "CPackConfig.cmake")], cwd=BUILD_DIR,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            cls.out.cleanup()
            raise AssertionError(output(res))
        debs = [f for f in os.listdir(cls.out.name) if f.endswith(".deb")]
        if len(debs) != 1:
            cls.out.cleanup()
            raise AssertionError("expected one .deb: %s" % os.listdir(cls.out.name))
        cls.deb = os.path.join(cls.out.name, debs[0])

    @classmethod
    def tearDownClass(cls):
        cls.out.cleanup()

    def ok(self, res, what):
        self.assertEqual(res.returncode, 0, "%s failed:\n%s" % (what, output(res)))
        return res.stdout

    def check(self, *cmd):
        return self.ok(self.root.run(*cmd), " ".join(cmd))

    def assert_clean_dpkg(self, res, what):
        out = self.ok(res, what)
        for word in ("warning", "error", "fail", "not found", "skipp"):
            self.assertNotIn(word, out.lower(), "%s printed %r:\n%s" % (what, word, output(res)))
        return out

    def stat(self, path):
        """(mode, user, group, type) of a path inside the root."""
        out = self.check("stat", "-c", "%a %U %G %F", path).split(None, 3)
        return out[0], out[1], out[2], out[3].strip()

    def exists(self, path):
        return self.root.run("test", "-e", path).returncode == 0 or \
            self.root.run("test", "-L", path).returncode == 0

    def test_deb_installs_enables_runs_and_purges_in_a_throwaway_root(self):
        before = host_state()
        self.root = ThrowawayRoot(self.deb)
        try:
            self.install_and_check()
            self.run_voipd_as_voipd()
            self.reinstall_and_purge()
        finally:
            self.root.close()
        # The root left nothing behind: no process (hence no mount) in its
        # namespaces, no temp dir, and the host's voipd state is as before.
        self.assertEqual(self.root.leftover, [], "processes left in the throwaway root")
        self.assertFalse(os.path.exists(self.root.tmp), self.root.tmp)
        with open("/proc/self/mountinfo") as f:
            mounts = f.read()
        self.assertNotIn(self.root.tmp, mounts)
        self.assertNotIn("voipd-deb-test", mounts)
        self.assertEqual(host_state(), before, "the host's voipd state changed")

    def install_and_check(self):
        root = self.root
        self.assert_clean_dpkg(root.run("dpkg", "-i", "/tmp/voipd.deb"), "dpkg -i")
        self.assertIn("install ok installed",
                      self.check("dpkg-query", "-W", "-f=${Status}", "voipd"))
        for path in PACKAGED:
            self.assertTrue(self.exists(path), "%s not installed" % path)

        # sysusers: a system user and group, no login shell, home = state dir.
        user = self.check("getent", "passwd", "voipd").strip().split(":")
        group = self.check("getent", "group", "voipd").strip().split(":")
        self.uid, self.gid = user[2], group[2]
        self.assertEqual(user[3], group[2], user)
        self.assertLess(int(self.uid), 1000, "not a system uid: %s" % user)
        self.assertEqual(user[5], "/var/lib/voipd", user)
        self.assertIn(user[6], ("/usr/sbin/nologin", "/sbin/nologin"), user)

        # tmpfiles: /etc/voipd readable by the group only, credentials root's.
        self.assertEqual(self.stat("/etc/voipd"), ("750", "root", "voipd", "directory"))
        self.assertEqual(self.stat("/etc/voipd/credentials"), ("700", "root", "root", "directory"))

        # Enabled offline, as `systemctl enable` would: the wants link.
        self.assertEqual(self.check("readlink", WANTS).strip(), UNIT)
        self.assertEqual(self.check("systemctl", "is-enabled", "voipd.service").strip(), "enabled")
        for unit in (UNIT, "/lib/systemd/system/voipd.socket"):
            out = self.check("systemd-analyze", "verify", unit)
            self.assertEqual(out.strip(), "", "systemd-analyze verify %s:\n%s" % (unit, out))

        # Configs: the embedded default (no /etc/voipd/voipd.yaml after a
        # fresh install) and the shipped example, also as /etc/voipd/voipd.yaml
        # readable by user voipd through the 0750 directory.
        self.assertFalse(self.exists("/etc/voipd/voipd.yaml"))
        self.assertIn("(embedded default): OK", self.check("voipd", "--check-config"))
        example = "/usr/share/doc/voipd/voipd.example.yaml"
        self.assertIn("OK", self.check("voipd", "--check-config", "--config", example))
        self.check("install", "-m", "0640", "-o", "root", "-g", "voipd", example,
                   "/etc/voipd/voipd.yaml")
        self.assertIn("/etc/voipd/voipd.yaml: OK",
                      self.check("setpriv", "--reuid", "voipd", "--regid", "voipd",
                                 "--init-groups", "voipd", "--check-config", "--config",
                                 "/etc/voipd/voipd.yaml"))
        self.check("rm", "/etc/voipd/voipd.yaml")

        # The webrtc adapter's softphone page, where its web_root defaults to.
        for name in ("index.html", "app.js", "style.css"):
            mode, owner, _, kind = self.stat("/usr/share/voipd/web/" + name)
            self.assertEqual((mode, owner, kind), ("644", "root", "regular file"), name)
        self.assertIn("<html", self.check("cat", "/usr/share/voipd/web/index.html").lower())

    def run_voipd_as_voipd(self):
        root = self.root
        # What StateDirectory= and RuntimeDirectory= would create.
        self.check("install", "-d", "-o", "voipd", "-g", "voipd", "-m", "0750",
                   "/var/lib/voipd", "/run/voipd")
        log = tempfile.TemporaryFile(mode="w+")
        proc = root.popen("setpriv", "--reuid", "voipd", "--regid", "voipd", "--init-groups",
                          "/usr/sbin/voipd", "--ready-file", "/run/voipd/ready.json",
                          "--state-dir", "/var/lib/voipd", log=log)

        def voipd_log():
            log.seek(0)
            return log.read()
        try:
            end = time.monotonic() + WAIT
            while True:
                res = root.run("cat", "/run/voipd/ready.json")
                if res.returncode == 0:
                    break
                if proc.poll() is not None or time.monotonic() > end:
                    self.fail("voipd did not become ready (exit %s):\n%s"
                              % (proc.poll(), voipd_log()))
                time.sleep(0.05)
            ready = json.loads(res.stdout)
            self.assertEqual(ready["listen"], ["127.0.0.1:50051"], res.stdout)
            self.assertIn("using the embedded sandbox default", voipd_log())

            status = self.check("cat", "/proc/%d/status" % ready["pid"])
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            self.assertEqual(fields["Uid"].split(), [self.uid] * 4, status)
            self.assertEqual(fields["Gid"].split(), [self.gid] * 4, status)
            self.assertEqual(fields["Groups"].split(), [self.gid], status)
            self.assertEqual(fields["CapEff"].strip(), "0" * 16, status)

            # Python grpcio on the root's loopback: StartCall, GetCallStatus.
            res = subprocess.run(root.nsenter("--net") + [
                sys.executable, os.path.join(HERE, "deb_root_client.py"), ready["listen"][0]],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            self.ok(res, "gRPC client\nvoipd log:\n" + voipd_log())
            call = json.loads(res.stdout.strip().splitlines()[-1])
            self.assertTrue(call["session_id"], call)
            self.assertEqual(call["status_session_id"], call["session_id"], call)
            self.assertEqual(call["system"], "sandbox", call)
            self.assertEqual(call["to"], "+12015550100", call)
            self.assertNotEqual(call["status"], "CALL_STATUS_UNSPECIFIED", call)

            # The packaged voipctl sees the same call.
            listed = self.check("voipctl", "--addr", ready["listen"][0], "list")
            self.assertIn(call["session_id"], listed)

            self.check("kill", "-TERM", str(ready["pid"]))
            try:
                rc = proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.fail("voipd ignored SIGTERM:\n" + voipd_log())
            self.assertEqual(rc, 0, "voipd exit status %s:\n%s" % (rc, voipd_log()))
            self.assertIn("daemon: stopped", voipd_log())
            # History written by voipd into its state directory.
            self.assertEqual(self.stat("/var/lib/voipd/voipd.db")[1:3], ("voipd", "voipd"))
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)  # nsenter; the holder's teardown does the rest
                proc.wait()
            log.close()

    def reinstall_and_purge(self):
        root = self.root
        # Reinstalling the same version runs prerm/postinst again: idempotent.
        self.assert_clean_dpkg(root.run("dpkg", "-i", "/tmp/voipd.deb"), "dpkg -i (again)")
        user = self.check("getent", "passwd", "voipd").strip().split(":")
        self.assertEqual(user[2], self.uid, user)
        self.assertEqual(self.check("readlink", WANTS).strip(), UNIT)

        # An operator's `systemctl disable voipd` survives an upgrade or a
        # reinstall (debhelper's was-enabled logic); only a first install enables.
        self.check("systemctl", "disable", "voipd.service")
        self.assertFalse(self.exists(WANTS), "systemctl disable left the wants link")
        self.assert_clean_dpkg(root.run("dpkg", "-i", "/tmp/voipd.deb"), "dpkg -i (disabled)")
        self.assertFalse(self.exists(WANTS), "reinstalling re-enabled a disabled voipd")
        res = root.run("systemctl", "is-enabled", "voipd.service")
        self.assertEqual(res.stdout.strip(), "disabled", output(res))

        self.assert_clean_dpkg(root.run("dpkg", "--purge", "voipd"), "dpkg --purge")
        res = root.run("dpkg-query", "-W", "-f=${Status}", "voipd")
        self.assertNotIn("installed", res.stdout, output(res))
        for path in PACKAGED + [WANTS, UNIT, "/usr/share/voipd", "/usr/share/doc/voipd"]:
            self.assertFalse(self.exists(path), "%s left after purge" % path)
        res = root.run("systemctl", "is-enabled", "voipd.service")
        self.assertNotEqual(res.returncode, 0, output(res))
        # /etc/voipd came from tmpfiles.d, not from the package's files:
        # postrm removes it on purge since nothing was put in it.
        self.assertFalse(self.exists("/etc/voipd"), "/etc/voipd left after purge")
        # Debian keeps system users on purge (files they own may remain).
        self.check("getent", "passwd", "voipd")


if __name__ == "__main__":
    unittest.main()
