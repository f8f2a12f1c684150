#!/usr/bin/env python3
"""Build each addon of the repository as an odoo-addon-<addon> wheel with whool,
the way OCA packages its addons, and check what the wheels hold.

    scripts/build_wheels.py [-d DIR] [ADDON_DIR ...]   build, check, copy the
                                                        wheels to DIR (dist/)
    scripts/build_wheels.py --check [ADDON_DIR ...]     build and check only

Without ADDON_DIR, every addon at the root of the repository. The build is
pip's (pip wheel --no-deps --no-build-isolation), with the build backend that
each addon's pyproject.toml names (whool.buildapi), so whool must be installed
(requirements-dev.txt). whool packages the files under git control: commit or
`git add` a new file before building. Each wheel must have:

- the name odoo_addon_<addon>-<version>-py3-none-any.whl, and the metadata
  Name odoo-addon-<addon>;
- the manifest's version, or whool's post-release of it (<version>.N, N the
  commits since the manifest's version last changed);
- Requires-Dist: Odoo of the manifest's series, each addon of this repository
  that the addon depends on (odoo-addon-<dep>), and the Python packages of its
  external_dependencies; nothing for Odoo's own addons;
- the manifest's summary and license, and README.rst as its description;
- under odoo/addons/<addon>/ the addon's files under git control but
  pyproject.toml, and nothing else beside its .dist-info folder (no
  odoo/__init__.py, which would hide Odoo's own addons).
"""

import argparse
import ast
import email.header
import email.parser
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def find_addons(root):
    return sorted(p.parent for p in root.glob("*/__manifest__.py"))


def read_manifest(addon_dir):
    return ast.literal_eval((addon_dir / "__manifest__.py").read_text("utf-8"))


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def odoo_addon_dirs():
    """Folders of Odoo's own addons (odoo/addons, and addons/ of a source tree)."""
    import odoo.addons  # binds odoo too

    root = Path(odoo.__file__).resolve().parent.parent
    return [Path(p) for p in odoo.addons.__path__] + [root / "addons"]


def is_odoo_addon(name, odoo_dirs):
    return any((d / name / "__manifest__.py").is_file() for d in odoo_dirs)


def decode(value):
    """A metadata header as text (whool writes non-ASCII ones RFC 2047-encoded)."""
    return str(email.header.make_header(email.header.decode_header(value or "")))


def external_requirements(manifest):
    """The distribution names the addon's Python external dependencies need."""
    try:  # whool's own map of import names to distribution names (dateutil...)
        from manifestoo_core.metadata import EXTERNAL_DEPENDENCIES_MAP
    except ImportError:
        EXTERNAL_DEPENDENCIES_MAP = {}
    python = manifest.get("external_dependencies", {}).get("python", [])
    return {canonical(EXTERNAL_DEPENDENCIES_MAP.get(dep, dep)) for dep in python}


def expected_requires(manifest, repo_addons, odoo_dirs):
    """{canonical distribution name: specifier or None} the wheel must require."""
    series = ".".join(manifest["version"].split(".")[:2])
    expected = {"odoo": f"=={series}.*"}
    for dep in manifest.get("depends", []):
        if dep in repo_addons or not is_odoo_addon(dep, odoo_dirs):
            expected[canonical(f"odoo-addon-{dep}")] = f"=={series}.*"
    for name in external_requirements(manifest):
        expected.setdefault(name, None)
    return expected


def git_files(addon_dir):
    """The addon's files under git control (what whool packages), or None out of
    a git work tree (whool then packages the whole folder)."""
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--", "."],
        cwd=addon_dir,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        return None
    return {f for f in proc.stdout.split("\0") if f}


def check_requires(errors, requires, expected):
    from packaging.requirements import Requirement

    found = {}
    for line in requires:
        req = Requirement(line)
        found[canonical(req.name)] = str(req.specifier) or None
    for name, spec in sorted(expected.items()):
        if name not in found:
            errors.append(f"Requires-Dist lacks {name}{spec or ''}")
        elif spec and found[name] != spec:
            errors.append(f"Requires-Dist {name}{found[name]}, expected {name}{spec}")
    for name in sorted(set(found) - set(expected)):
        errors.append(f"Requires-Dist has unexpected {name}{found[name] or ''}")


def check_files(errors, names, addon, addon_dir, dist_info):
    prefix = f"odoo/addons/{addon}/"
    packaged = {n[len(prefix) :] for n in names if n.startswith(prefix)}
    tracked = git_files(addon_dir)
    if tracked is not None:
        tracked.discard("pyproject.toml")
        for rel in sorted(tracked - packaged)[:10]:
            errors.append(f"missing {prefix}{rel} (under git control)")
        for rel in sorted(packaged - tracked)[:10]:
            errors.append(f"unexpected {prefix}{rel} (not under git control)")
    for rel in ("__manifest__.py", "README.rst", "static/description/index.html"):
        if rel not in packaged:
            errors.append(f"missing {prefix}{rel}")
    stray = [
        n for n in names if not n.startswith((prefix, f"{dist_info}/")) and n[-1] != "/"
    ]
    for name in stray[:10]:
        errors.append(f"unexpected {name} outside the addon (breaks odoo.addons)")


def check_wheel(wheel, addon_dir, repo_addons, odoo_dirs):
    """Return the list of what is wrong with the wheel of addon_dir."""
    addon = addon_dir.name
    manifest = read_manifest(addon_dir)
    errors = []
    m = re.fullmatch(rf"odoo_addon_{addon}-([0-9.]+)-py3-none-any\.whl", wheel.name)
    if not m:
        return [f"{wheel.name}: not odoo_addon_{addon}-<version>-py3-none-any.whl"]
    version = m.group(1)
    if not re.fullmatch(re.escape(manifest["version"]) + r"(\.[0-9]+)?", version):
        errors.append(f"version {version} is not the manifest's {manifest['version']}")
    dist_info = f"odoo_addon_{addon}-{version}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = email.parser.Parser().parsestr(
            zf.read(f"{dist_info}/METADATA").decode("utf-8")
        )
        wheel_info = email.parser.Parser().parsestr(
            zf.read(f"{dist_info}/WHEEL").decode("utf-8")
        )
    if meta["Name"] != f"odoo-addon-{addon}":
        errors.append(f"Name {meta['Name']}, expected odoo-addon-{addon}")
    if meta["Version"] != version:
        errors.append(f"Version {meta['Version']} differs from the file name's")
    if wheel_info["Tag"] != "py3-none-any":
        errors.append(f"Tag {wheel_info['Tag']}, expected py3-none-any")
    want = " ".join(manifest.get("summary", "").split())
    if decode(meta["Summary"]) != want:
        errors.append(f"Summary {decode(meta['Summary'])!r}, expected {want!r}")
    if meta["License"] != manifest.get("license"):
        errors.append(f"License {meta['License']}, expected {manifest.get('license')}")
    readme = (addon_dir / "README.rst").read_text("utf-8")
    if meta["Description-Content-Type"] != "text/x-rst" or meta.get_payload() != readme:
        errors.append("the description is not README.rst")
    expected = expected_requires(manifest, repo_addons, odoo_dirs)
    check_requires(errors, meta.get_all("Requires-Dist") or [], expected)
    check_files(errors, names, addon, addon_dir, dist_info)
    return errors


def build(addon_dirs, wheel_dir):
    """Build the wheels into the empty wheel_dir with pip and whool; return
    {addon_dir: wheel path}."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "--wheel-dir",
        str(wheel_dir),
        *map(str, addon_dirs),
    ]
    subprocess.run(cmd, check=True, env=dict(os.environ, PIP_NO_INPUT="1"))
    wheels = {}
    for addon_dir in addon_dirs:
        found = list(wheel_dir.glob(f"odoo_addon_{addon_dir.name}-[0-9]*.whl"))
        if len(found) != 1:
            raise SystemExit(f"build_wheels.py: error: no wheel built for {addon_dir}")
        wheels[addon_dir] = found[0]
    return wheels


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-d", "--dist-dir", type=Path, default=REPO / "dist")
    parser.add_argument(
        "--check",
        action="store_true",
        help="build into a temporary folder, check the wheels, delete them",
    )
    parser.add_argument("addons", nargs="*", type=Path, metavar="ADDON_DIR")
    args = parser.parse_args(argv)
    addon_dirs = [p.resolve() for p in args.addons] or find_addons(REPO)
    for addon_dir in addon_dirs:
        if not (addon_dir / "pyproject.toml").is_file():
            parser.error(f"{addon_dir} has no pyproject.toml (add one: whool init DIR)")
    try:
        import whool  # noqa: F401
    except ImportError:
        print(
            "build_wheels.py: error: whool not found; run: "
            "pip install -r requirements-dev.txt",
            file=sys.stderr,
        )
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="build_wheels_"))
    try:
        wheels = build(addon_dirs, tmp)
        repo_addons = {p.name for p in find_addons(REPO)} | {p.name for p in addon_dirs}
        odoo_dirs = odoo_addon_dirs()
        failed = False
        for addon_dir, wheel in wheels.items():
            errors = check_wheel(wheel, addon_dir, repo_addons, odoo_dirs)
            print(f"{wheel.name}: {'; '.join(errors) if errors else 'ok'}")
            failed = failed or bool(errors)
            if not args.check:
                args.dist_dir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(wheel, args.dist_dir / wheel.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print("build_wheels.py: FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
