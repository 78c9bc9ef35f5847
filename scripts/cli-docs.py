#!/usr/bin/env python3
"""Man pages and bash completion from the `--help` of every nubefact command.

Usage: cli-docs.py NUBEFACT_BINARY OUT_DIR

Writes OUT_DIR/man1/nubefact.1.gz (the overview), OUT_DIR/man1/nubefact-<command>.1.gz (one per
top-level command; nested subcommands such as `accounts add` are sections of their command's page)
and OUT_DIR/nubefact.bash (completion of commands, subcommands and options). Run at build time by
CMake (cmake/cli-docs.cmake); the output is reproducible (no dates, gzip without a timestamp).
The parser reads CLI11's help layout: description, "Usage:", the sections "Positionals:",
"Options:" and "Subcommands:" (entries indented two spaces, the text after two or more spaces,
continuation lines indented further) and the footer after them.
"""

import gzip
import os
import re
import shutil
import subprocess
import sys

SECTIONS = ("Positionals", "Options", "Subcommands")


class Help:
    def __init__(self, path, text):
        self.path = path  # ["accounts", "add"]
        self.description = []
        self.usage = ""
        self.sections = {name: [] for name in SECTIONS}  # [(name, text)]
        self.footer = []
        self.children = []
        self._parse(text)

    def _parse(self, text):
        lines = text.rstrip("\n").split("\n")
        i = 0
        while i < len(lines) and not lines[i].startswith("Usage: "):
            self.description.append(lines[i])
            i += 1
        if i == len(lines):
            raise SystemExit(f"cli-docs: no 'Usage:' line in the help of {' '.join(self.path) or 'nubefact'}")
        self.usage = lines[i][len("Usage: "):]
        i += 1
        section = None
        rest = []
        for line in lines[i:]:
            header = re.fullmatch(r"(\w+):", line)
            if header and header.group(1) in SECTIONS and not any(r.strip() for r in rest):
                rest = []
                section = self.sections[header.group(1)]
                continue
            if section is not None:
                if not line.strip():
                    section = None
                    continue
                m = re.fullmatch(r"  (\S.*?)(?:\s{2,}(\S.*))?", line)
                if line.startswith("   ") and section:  # continuation of the previous entry's text
                    name, desc = section[-1]
                    section[-1] = (name, (desc + " " + line.strip()).strip())
                elif m:
                    section.append((m.group(1), m.group(2) or ""))
                continue
            rest.append(line)
        while rest and not rest[0].strip():
            rest.pop(0)
        self.footer = rest

    def summary(self):
        """The description's first paragraph on one line, without a leading "nubefact: "."""
        first = []
        for line in self.description:
            if not line.strip():
                break
            first.append(line.strip())
        text = " ".join(first)
        return text[len("nubefact: "):] if text.startswith("nubefact: ") else text

    def more(self):
        """The description after its first paragraph."""
        lines = list(self.description)
        while lines and lines[0].strip():
            lines.pop(0)
        return lines

    def options(self):
        """[(names, takes_value)] of the Options section."""
        out = []
        for spec, _ in self.sections["Options"]:
            head, _, value = spec.partition(" ")
            out.append((head.split(","), bool(value.strip())))
        return out

    def subcommands(self):
        return [name for name, _ in self.sections["Subcommands"]]


def read_help(binary, path):
    r = subprocess.run([binary, *path, "--help"], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"cli-docs: `{binary} {' '.join(path)} --help` exited with {r.returncode}: {r.stderr}")
    h = Help(path, r.stdout)
    h.children = [read_help(binary, path + [s]) for s in h.subcommands()]
    return h


def version_of(binary):
    r = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    return r.stdout.strip()  # "nubefact 0.1.0"


# ---- roff ------------------------------------------------------------------------------------


def roff(text):
    """Escapes text for a roff line (backslashes, hyphens, a leading dot or quote)."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def roff_block(lines):
    """The footer: prose paragraphs filled, indented lines (examples) kept as they are."""
    out = []
    para = []

    def flush():
        if para:
            out.append(".PP")
            out.extend(roff(line.strip()) for line in para)
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
        elif line.startswith(" "):
            flush()
            block = []
            while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            out.extend([".PP", ".RS 4", ".nf"] + [roff(b) for b in block] + [".fi", ".RE"])
            continue
        else:
            para.append(line)
        i += 1
    flush()
    return out


def roff_entries(entries):
    out = []
    for spec, desc in entries:
        head, _, value = spec.partition(" ")
        names = ", ".join("\\fB" + roff(n) + "\\fR" for n in head.split(","))
        out += [".TP", names + (" \\fI" + roff(value) + "\\fR" if value else "")]
        out.append(roff(desc) if desc else "")
    return out


def roff_help_body(h, level, nested=True):
    """SYNOPSIS/ARGUMENTS/OPTIONS of one command: .SH for a page's own command, .SS for nested ones."""
    out = []
    if level > 0:
        out += [f'.SS "nubefact {" ".join(h.path)}"', roff(h.summary())]
    out += [".PP" if level else ".SH SYNOPSIS", "\\fB" + roff(h.usage) + "\\fR"]
    if level == 0 and any(line.strip() for line in h.more() + h.footer):
        out += [".SH DESCRIPTION"] + roff_block(h.more() + [""] + h.footer)
    if h.sections["Positionals"]:
        out += [".PP" if level else ".SH ARGUMENTS"] + roff_entries(h.sections["Positionals"])
    if h.sections["Options"]:
        out += [".PP" if level else ".SH OPTIONS"] + roff_entries(h.sections["Options"])
    if level == 0:
        if h.sections["Subcommands"]:
            out += [".SH COMMANDS"] + roff_entries(h.sections["Subcommands"])
    elif h.footer and h.footer != h.parent_footer:
        out += roff_block(h.footer)
    for child in h.children if nested else []:
        child.parent_footer = h.footer
        out += roff_help_body(child, level + 1)
    return out


def man_page(h, version, top):
    name = "nubefact" + "".join("-" + p for p in h.path)
    title = name.upper()
    out = [
        f".\\\" Generated from `{' '.join(['nubefact'] + h.path + ['--help'])}` by scripts/cli-docs.py; do not edit.",
        f'.TH "{title}" "1" "" "{version}" "nubefact manual"',
        ".SH NAME",
        roff(name) + " \\- " + roff(h.summary()),
    ]
    h.parent_footer = None
    out += roff_help_body(h, 0, nested=bool(h.path))  # nubefact(1) is the overview: COMMANDS, SEE ALSO
    out.append(".SH SEE ALSO")
    if h.path:
        out.append("\\fBnubefact\\fR(1)")
    else:
        out.append(",\n".join(f"\\fBnubefact\\-{roff(c.path[0])}\\fR(1)" for c in top.children))
    return "\n".join(out) + "\n"


def write_gz(path, text):
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as z:
            z.write(text.encode("utf-8"))


# ---- bash completion -------------------------------------------------------------------------


def walk(h):
    yield h
    for c in h.children:
        yield from walk(c)


def completion(top, version):
    subs, opts, valued = [], [], set()
    for h in walk(top):
        key = " ".join(["nubefact"] + h.path)  # bash refuses an empty key
        if h.subcommands():
            subs.append(f'        ["{key}"]="{" ".join(h.subcommands())}"')
        names = []
        for ns, takes_value in h.options():
            names += ns
            if takes_value:
                valued.update(n for n in ns)
        opts.append(f'        ["{key}"]="{" ".join(names)}"')
    return f"""# bash completion for nubefact ({version}): commands, subcommands and options.
# Generated from the --help of every command by scripts/cli-docs.py; do not edit.
_nubefact() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} path=nubefact word i
    local -A subs=(
{chr(10).join(subs)}
    )
    local -A opts=(
{chr(10).join(opts)}
    )
    local valued=" {" ".join(sorted(valued))} "
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if [[ " ${{subs[$path]:-}} " == *" $word "* ]]; then
            path="$path $word"
        fi
    done
    if [[ $prev == -* && $valued == *" $prev "* ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))  # an option's value: files are the common case
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "${{opts[$path]:-}}" -- "$cur"))
    elif [[ -n ${{subs[$path]:-}} ]]; then
        COMPREPLY=($(compgen -W "${{subs[$path]}}" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}}
complete -o filenames -F _nubefact nubefact
"""


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    binary, out = sys.argv[1], sys.argv[2]
    top = read_help(binary, [])
    version = version_of(binary)
    man1 = os.path.join(out, "man1")
    shutil.rmtree(man1, ignore_errors=True)  # a removed command leaves no page behind
    os.makedirs(man1)
    write_gz(os.path.join(man1, "nubefact.1.gz"), man_page(top, version, top))
    for c in top.children:
        write_gz(os.path.join(man1, f"nubefact-{c.path[0]}.1.gz"), man_page(c, version, top))
    with open(os.path.join(out, "nubefact.bash"), "w", encoding="utf-8") as f:
        f.write(completion(top, version))
    print(f"cli-docs: {1 + len(top.children)} man pages and the bash completion in {out}")


if __name__ == "__main__":
    main()
