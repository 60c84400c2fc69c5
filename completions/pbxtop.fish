complete -c pbxtop -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET; standaard: /run/pbxd/control.sock]' -r -F
complete -c pbxtop -l lang -d 'Taal: nl of en' -r
complete -c pbxtop -l generate -d 'Schrijf manpagina\'s of shell-completions (voor de verpakking) [mogelijk: man, complete-bash, complete-zsh, complete-fish]' -r -f -a "man\t'Man page(s)'
complete-bash\t'bash completion'
complete-zsh\t'zsh completion'
complete-fish\t'fish completion'"
complete -c pbxtop -l out -d 'Doelmap voor --generate [standaard: .]' -r -F
complete -c pbxtop -l once -d 'Druk de eerste momentopname af als tekst en stop (voor scripts en tests). Zonder terminal en zonder --once stopt pbxtop met code 64'
complete -c pbxtop -s h -l help -d 'Toon deze hulp'
complete -c pbxtop -s V -l version -d 'Toon de versie'
