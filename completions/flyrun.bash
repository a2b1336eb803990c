# bash completion for flyrun: eval "$(flyrun completion bash)", or source a saved copy.
# Each answer line is KIND,VALUE; KIND is plain (a word), file or dir (let bash complete paths).
_flyrun_completion() {
    local line kind
    local -a answers
    COMPREPLY=()
    mapfile -t answers < <(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD="$COMP_CWORD" _FLYRUN_COMPLETE=bash_complete "$1")
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

complete -o nosort -F _flyrun_completion flyrun
