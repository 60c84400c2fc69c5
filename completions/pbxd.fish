complete -c pbxd -s c -l config -d 'Map met pbxd.toml en tenants/ [omgevingsvariabele: PBXD_CONFIG; standaard: /etc/pbxd]' -r -F
complete -c pbxd -l lang -d 'Taal van meldingen: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxd -l generate -d 'Schrijf manpagina\'s of shell-completions (voor de verpakking) [mogelijk: man, complete-bash, complete-zsh, complete-fish]' -r -f -a "man\t'Man page(s)'
complete-bash\t'bash completion'
complete-zsh\t'zsh completion'
complete-fish\t'fish completion'"
complete -c pbxd -l out -d 'Doelmap voor --generate [standaard: .]' -r -F
complete -c pbxd -l check -d 'Controleer de configuratie en stop (dezelfde controle als pbxctl check)'
complete -c pbxd -l deny-warnings -d 'Behandel waarschuwingen als fouten (met --check)'
complete -c pbxd -l json -d 'Uitvoer als JSON (met --check)'
complete -c pbxd -s h -l help -d 'Toon deze hulp'
complete -c pbxd -s V -l version -d 'Toon de versie'
