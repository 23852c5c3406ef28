"""`cmake --install` puts files in FHS places and `cpack -G DEB` builds a
package with the unit, sysusers/tmpfiles snippets and maintainer scripts
that enable the service. Installing, running and purging the .deb is
test_deb_install.py (in a throwaway root, never on the test machine)."""
import os
import subprocess
import tempfile
import unittest

BUILD_DIR = os.path.dirname(os.path.dirname(os.path.abspath(os.environ["VOIPD_BIN"])))

EXPECTED = ["usr/sbin/voipd", "usr/bin/voipctl", "usr/lib/systemd/system/voipd.service",
            "usr/lib/systemd/system/voipd.socket", "usr/lib/sysusers.d/voipd.conf",
            "usr/lib/tmpfiles.d/voipd.conf", "usr/share/doc/voipd/voipd.example.yaml",
            "usr/share/doc/voipd/operations.md",
            # The webrtc adapter's softphone page (its default web_root).
            "usr/share/voipd/web/index.html", "usr/share/voipd/web/app.js",
            "usr/share/voipd/web/style.css"]


class PackagingTest(unittest.TestCase):
    def test_cmake_install_layout(self):
        with tempfile.TemporaryDirectory(prefix="voipd-install-") as dest:
            subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", "/usr"], check=True,
                           env=dict(os.environ, DESTDIR=dest), stdout=subprocess.DEVNULL)
            for path in EXPECTED:
                self.assertTrue(os.path.exists(os.path.join(dest, path)), path)

    def test_deb_package(self):
        with tempfile.TemporaryDirectory(prefix="voipd-deb-") as out:
            subprocess.run(["cpack", "-G", "DEB", "-B", out, "--config",
                            os.path.join(BUILD_DIR, "CPackConfig.cmake")], check=True,
                           cwd=BUILD_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            debs = [f for f in os.listdir(out) if f.endswith(".deb")]
            self.assertEqual(len(debs), 1, os.listdir(out))
            deb = os.path.join(out, debs[0])
            listing = subprocess.run(["dpkg-deb", "-c", deb], check=True,
                                     stdout=subprocess.PIPE).stdout.decode()
            for path in EXPECTED:
                self.assertIn("./" + path, listing)
            # shlibdeps finds the linked libraries (tcmalloc among them, which
            # nothing would notice missing: malloc would quietly resolve to
            # glibc's); libcurl4 is dlopen()ed and listed by hand.
            field = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], check=True,
                                   stdout=subprocess.PIPE).stdout.decode()
            depends = {d.strip().split()[0] for d in field.replace("|", ",").split(",")
                       if d.strip()}
            for dep in ("systemd", "libgrpc++1.51", "libsystemd0", "libssl3", "libcurl4",
                        "libre0"):
                self.assertIn(dep, depends, field)
            with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as cache:
                cmake_cache = cache.read()
            tcmalloc = "VOIPD_ALLOCATOR:STRING=tcmalloc\n" in cmake_cache
            if tcmalloc:
                self.assertIn("libtcmalloc-minimal4", depends, field)
            else:  # -DVOIPD_ALLOCATOR=system
                self.assertNotIn("libtcmalloc-minimal4", depends, field)
            # A binary with packed relative relocations needs glibc >= 2.36,
            # which shlibdeps does not derive: the package must say so.
            headers = subprocess.run(["objdump", "-p", os.environ["VOIPD_BIN"]], check=True,
                                     stdout=subprocess.PIPE, text=True).stdout
            if "GLIBC_ABI_DT_RELR" in headers:
                libc = [d.strip() for d in field.split(",") if d.strip().startswith("libc6 (>=")]
                self.assertTrue(any(
                    subprocess.run(["dpkg", "--compare-versions", d[len("libc6 (>="):-1].strip(),
                                    "ge", "2.36"]).returncode == 0 for d in libc), field)
            control = os.path.join(out, "control")
            subprocess.run(["dpkg-deb", "-e", deb, control], check=True)
            with open(os.path.join(control, "postinst")) as f:
                postinst = f.read()
            # A failed systemd-sysusers must fail the configure step: no
            # "|| true" on that line (test_deb_install runs the script itself).
            sysusers = [line for line in postinst.splitlines()
                        if line.strip().startswith("systemd-sysusers")]
            self.assertEqual(len(sysusers), 1, postinst)
            self.assertTrue(sysusers[0].rstrip().endswith("voipd.conf"), sysusers[0])
            self.assertIn("deb-systemd-helper enable voipd.service", postinst)
            self.assertTrue(os.access(os.path.join(control, "postinst"), os.X_OK))


if __name__ == "__main__":
    unittest.main()
