"""``flyrun completion SHELL``: print the shell completion script for bash, zsh or fish.

The scripts, and the answers flyrun prints when a script calls it back, are flyrun's own rather than click's built-in
ones: click has changed both between versions (8.4 and 8.5 write different fish scripts), so owning them keeps
completions/ and the scripts people saved the same whichever click the resolver picked. Click still works out *what*
completes (commands, options, and the entity names of ``flyrun run FILE``); only the shell side lives here.
"""

from __future__ import annotations

import os

import click

from flyrun.cli.app import Application
from flyrun.cli.options import global_options

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_FLYRUN_COMPLETE"

# Placeholders: __PROG__ the command, __FUNC__ the shell function, __VAR__ the variable that asks for completions.
# The bash and zsh scripts read the same answers as click 8.1-8.4's did, so copies saved before keep working.
BASH_SCRIPT = r"""# bash completion for __PROG__: eval "$(__PROG__ completion bash)", or source a saved copy.
# Each answer line is KIND,VALUE; KIND is plain (a word), file or dir (let bash complete paths).
__FUNC__() {
    local line kind
    local -a answers
    COMPREPLY=()
    mapfile -t answers < <(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" __VAR__=bash_complete "$1")
    for line in "${answers[@]}"; do
        kind=${line%%,*}
        case $kind in
            plain) COMPREPLY+=("${line#*,}") ;;
            file) COMPREPLY=(); compopt -o default ;;
            dir) COMPREPLY=(); compopt -o dirnames ;;
        esac
    done
    return 0
}

complete -o nosort -F __FUNC__ __PROG__
"""

ZSH_SCRIPT = r"""#compdef __PROG__
# zsh completion for __PROG__: eval "$(__PROG__ completion zsh)", or save it as _flyrun in a folder on $fpath.
# Answers come in threes, one per line: KIND, VALUE, HELP ("_" for none); KIND is plain, file or dir.

__FUNC__() {
    local -a answers plain described
    local kind value help
    (( $+commands[__PROG__] )) || return 1
    answers=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT-1)) __VAR__=zsh_complete __PROG__)}")
    for kind value help in "${answers[@]}"; do
        case $kind in
            plain) if [[ $help == _ ]]; then plain+=("$value"); else described+=("$value:$help"); fi ;;
            file) _path_files -f ;;
            dir) _path_files -/ ;;
        esac
    done
    if (( ${#described} )); then
        _describe -V unsorted described -U
    fi
    if (( ${#plain} )); then
        compadd -U -V unsorted -a plain
    fi
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    __FUNC__ "$@"
else
    compdef __FUNC__ __PROG__
fi
"""

FISH_SCRIPT = r"""# fish completion for __PROG__: __PROG__ completion fish | source, or save it in
# ~/.config/fish/completions/.
# Each answer line is KIND<tab>VALUE[<tab>HELP]; KIND is plain, file or dir.
function __FUNC__
    set -l words (commandline -cp)
    set -l token (commandline -ct)
    for line in (env __VAR__=fish_complete COMP_WORDS="$words" COMP_CWORD="$token" __PROG__)
        set -l answer (string split --max 1 \t -- $line)
        switch $answer[1]
            case plain
                echo $answer[2]
            case file
                __fish_complete_path "$token"
            case dir
                __fish_complete_directories "$token"
        end
    end
end

complete --command __PROG__ --no-files --arguments '(__FUNC__)'
"""


def _one_line(text: str) -> str:
    # Every script reads an answer per line (fish also splits on tabs): keep a value or help text on one.
    return " ".join(text.split()) if any(c in text for c in "\t\n\r") else text


def _completion_classes() -> dict[str, type]:
    from click.shell_completion import CompletionItem, ShellComplete, split_arg_string

    class FlyrunShell(ShellComplete):
        script: str

        def source(self) -> str:
            names = {"__PROG__": self.prog_name, "__FUNC__": self.func_name, "__VAR__": self.complete_var}
            text = self.script
            for placeholder, value in names.items():
                text = text.replace(placeholder, value)
            return text

        def get_completion_args(self) -> tuple[list[str], str]:
            words = split_arg_string(os.environ.get("COMP_WORDS", ""))
            current = int(os.environ.get("COMP_CWORD", "0") or 0)
            return words[1:current], words[current] if current < len(words) else ""

    class Bash(FlyrunShell):
        name = "bash"
        script = BASH_SCRIPT

        def format_completion(self, item: CompletionItem) -> str:
            return f"{item.type},{_one_line(item.value)}"

    class Zsh(FlyrunShell):
        name = "zsh"
        script = ZSH_SCRIPT

        def format_completion(self, item: CompletionItem) -> str:
            help_text = _one_line(item.help) if item.help else "_"
            # _describe splits VALUE:HELP at the first unescaped colon; compadd (no help) takes the value as is.
            value = _one_line(item.value).replace(":", r"\:") if help_text != "_" else _one_line(item.value)
            return f"{item.type}\n{value}\n{help_text}"

    class Fish(FlyrunShell):
        name = "fish"
        script = FISH_SCRIPT

        def get_completion_args(self) -> tuple[list[str], str]:
            # fish sends the whole line up to the cursor and, apart, the token being completed.
            words = split_arg_string(os.environ.get("COMP_WORDS", ""))
            token = os.environ.get("COMP_CWORD", "")
            incomplete = split_arg_string(token)[0] if token else ""
            args = words[1:]
            if incomplete and args and args[-1] == incomplete:
                args.pop()
            return args, incomplete

        def format_completion(self, item: CompletionItem) -> str:
            fields = [item.type, _one_line(item.value)] + ([_one_line(item.help)] if item.help else [])
            return "\t".join(fields)

    return {"bash": Bash, "zsh": Zsh, "fish": Fish}


def use_flyrun_scripts() -> None:
    """Make click answer ``_FLYRUN_COMPLETE=SHELL_complete`` in the format of flyrun's scripts, not its own."""
    from click.shell_completion import add_completion_class

    for name, cls in _completion_classes().items():
        add_completion_class(cls, name)


def completion_script(shell: str) -> str:
    """flyrun's script for ``shell``; it calls back into flyrun for each completion."""
    from flyrun.cli.main import build_root

    cls = _completion_classes()[shell]
    return cls(build_root(), {}, "flyrun", COMPLETE_VAR).source()


def _known_shell(ctx: click.Context, param: click.Parameter, shell: str) -> str:
    if shell not in SHELLS:
        from flyrun.errors import UsageError

        raise UsageError(f"flyrun has no completion script for {shell}: the shells are {', '.join(SHELLS)}")
    return shell


@click.command()
@click.argument("shell", metavar="SHELL", callback=_known_shell,
                shell_complete=lambda ctx, param, incomplete: [s for s in SHELLS if s.startswith(incomplete)])
@global_options
@click.pass_obj
def completion(app: Application, shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  eval "$(flyrun completion bash)"      (or copy completions/flyrun.bash)
    zsh:   eval "$(flyrun completion zsh)"
    fish:  flyrun completion fish | source
    """
    app.echo(completion_script(shell).rstrip("\n"))
