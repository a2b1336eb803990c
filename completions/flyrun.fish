# fish completion for flyrun: flyrun completion fish | source, or save it in
# ~/.config/fish/completions/.
# Each answer line is KIND<tab>VALUE[<tab>HELP]; KIND is plain, file or dir.
function _flyrun_completion
    set -l words (commandline -cp)
    set -l token (commandline -ct)
    for line in (env _FLYRUN_COMPLETE=fish_complete COMP_WORDS="$words" COMP_CWORD="$token" flyrun)
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

complete --command flyrun --no-files --arguments '(_flyrun_completion)'
