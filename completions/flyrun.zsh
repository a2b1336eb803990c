#compdef flyrun
# zsh completion for flyrun: eval "$(flyrun completion zsh)", or save it as _flyrun in a folder on $fpath.
# Answers come in threes, one per line: KIND, VALUE, HELP ("_" for none); KIND is plain, file or dir.

_flyrun_completion() {
    local -a answers plain described
    local kind value help
    (( $+commands[flyrun] )) || return 1
    answers=("${(@f)$(env COMP_WORDS="${words[*]}" COMP_CWORD=$((CURRENT-1)) _FLYRUN_COMPLETE=zsh_complete flyrun)}")
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
    _flyrun_completion "$@"
else
    compdef _flyrun_completion flyrun
fi
