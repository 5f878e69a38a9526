#!/usr/bin/python3
"""Prints `LINES<TAB>FILE<TAB>LINE<TAB>NAME` for each function defined in the C++/CUDA files named on stdin.

Heuristic, no real parser: comments, literals and preprocessor lines are blanked (newlines kept), then braces are
tracked. At namespace/class scope a `{` opens a function when the text before it (since the last `;`, `{` or `}`)
ends with `name(...)` plus qualifiers, a trailing return type or a constructor initializer list; namespace, class,
struct, union, enum and extern "C" blocks are descended into; any other block (a braced initializer) is skipped.
A function's length runs from the first line of its signature (template line included) to its closing brace, so
lambdas and local classes inside it count as part of it. Longest first. Used by scripts/check_layout.sh.
"""
import bisect
import re
import sys

# Order matters: the leftmost match wins, so a `//` inside a string or a `'` inside 1'000 is never misread.
LEXEMES = re.compile(r'''
    (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<raw>(?:u8|[uUL])?R"(?P<delim>[^()\\\s"]{0,16})\(.*?\)(?P=delim)")
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<number>\b\d(?:[\w.]|'(?=\w))*)
  | (?P<char>'(?:\\.|[^'\\\n])+')
  | (?P<directive>^[ \t]*\#(?:\\\n|[^\n])*)
''', re.S | re.M | re.X)

NAME = (r'(?P<name>(?:\w+(?:<[^;<>]*(?:<[^;<>]*>[^;<>]*)*>)? ?:: ?)*'  # Class<T>:: qualifiers
        r'(?:operator ?(?:\(\)|[^\w\s()]+|\w[\w:<>*& ]*?)|(?:~ ?)?\w+))')
QUALS = r'(?: ?(?:const|volatile|noexcept|override|final|mutable|try|&&?|(?:noexcept|throw) ?\(\)))*'
# name(...) quals [-> type | : a(x), b{y}] -- parenthesised and braced groups are collapsed to () and {} first.
FUNCTION = re.compile(NAME + r'(?:<[^;<>]*>)? ?\(\)' + QUALS + r'(?: ?->[^;{}]*| ?:(?!:)[^;]*[)}])? ?$')
# `name = [captures](...) ... {`: a lambda at namespace scope, counted under the variable's name.
LAMBDA = re.compile(r'(?P<name>\w+) ?= ?\[[^\]]*\][^;=]*$')
# `Foo(...) : a(x), b` just before a `{`: that brace is b's initializer, not the body.
INIT_PENDING = re.compile(r'\w ?\(\)' + QUALS + r' ?:(?!:)[^;]*[\w>]$')
SCOPE = re.compile(r'\b(?:namespace|class|struct|union|enum)\b|\bextern ?""')
# Text before a signature that is not part of it: `public:` and a macro statement such as BOOST_AUTO_TEST_SUITE(x).
LEADING = re.compile(r'^\s*(?:(?:public|protected|private)\s*:(?!:)\s*'
                     r'|[A-Z][A-Z0-9_]*\s*\((?:[^()]|\([^()]*\))*\)\s*(?=[\w\[~]))*')


def blank(match):
    """Literals keep their quotes (so extern "C" is still recognisable); everything else keeps only its newlines."""
    text = match.group()
    if match.lastgroup in ('string', 'raw'):
        return '""' + '\n' * text.count('\n')
    if match.lastgroup == 'char':
        return "''"
    if match.lastgroup == 'number':
        return text.replace("'", '')
    return ' ' + '\n' * text.count('\n')


def collapse(header):
    """Collapses every (...) and {...} group to () and {} and squeezes whitespace."""
    previous = None
    while previous != header:
        previous = header
        header = re.sub(r'\((?:[^()]|\(\))*?\)', '()', header)
        header = re.sub(r'\{[^{}]*\}', '{}', header)
    return re.sub(r'\s+', ' ', header).strip()


def display_name(name, raw_header):
    """A test macro such as BOOST_AUTO_TEST_CASE(foo) is shown with its first argument."""
    if re.fullmatch(r'[A-Z][A-Z0-9]*_[A-Z0-9_]*', name):
        args = re.search(re.escape(name) + r'\s*\(([^,)]*)', raw_header)
        if args:
            return '%s(%s)' % (name, args.group(1).strip())
    return re.sub(r' ?(::|~) ?', r'\1', name)


def functions(text, path):
    """Yields (first line, length in lines, name) for each function definition in one file's text."""
    text = LEXEMES.sub(blank, text)
    newlines = [i for i, c in enumerate(text) if c == '\n']
    line_of = lambda pos: bisect.bisect_left(newlines, pos) + 1
    tokens = [(m.start(), m.group()) for m in re.finditer(r'[{};]', text)]
    close_of, opened = {}, []
    for index, (_, c) in enumerate(tokens):
        if c == '{':
            opened.append(index)
        elif c == '}' and opened:
            close_of[opened.pop()] = index
    index, header_start = 0, 0
    while index < len(tokens):
        pos, c = tokens[index]
        if c != '{':
            header_start, index = pos + 1, index + 1
            continue
        if index not in close_of:  # unbalanced braces (e.g. #if branches): stop rather than guess
            print('function_lengths: %s:%d: unmatched {, rest of file not measured' % (path, line_of(pos)),
                  file=sys.stderr)
            return
        raw = text[header_start:pos]
        signature = LEADING.sub('', raw, count=1).lstrip()  # a suffix of raw
        header = collapse(signature)
        close = close_of[index]
        if raw.count('(') > raw.count(')') or INIT_PENDING.search(header):
            index = close + 1  # a braced argument or a member's brace initializer: the header goes on
            continue
        found = LAMBDA.search(header) or FUNCTION.search(header)
        if found:
            first = line_of(pos - len(signature))
            yield first, line_of(tokens[close][0]) - first + 1, display_name(found.group('name'), signature)
            header_start, index = tokens[close][0] + 1, close + 1
        elif SCOPE.search(header):
            header_start, index = pos + 1, index + 1
        else:
            index = close + 1  # a braced initializer at namespace/class scope


def main():
    rows = []
    for path in sys.stdin.read().splitlines():
        try:
            with open(path, encoding='utf-8', errors='replace') as f:
                text = f.read()
        except OSError:
            continue  # listed by git but deleted in the work tree
        rows += [(length, path, line, name) for line, length, name in functions(text, path)]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    sys.stdout.write(''.join('%d\t%s\t%d\t%s\n' % row for row in rows))


if __name__ == '__main__':
    main()
