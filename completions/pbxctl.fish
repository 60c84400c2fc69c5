# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_pbxctl_global_optspecs
    string join \n json lang= socket= config= generate= out= h/help V/version
end

function __fish_pbxctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_pbxctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_pbxctl_using_subcommand
    set -l cmd (__fish_pbxctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c pbxctl -n "__fish_pbxctl_needs_command" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_needs_command" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_needs_command" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_needs_command" -l generate -d 'Schrijf manpagina\'s of shell-completions (voor de verpakking) [mogelijk: man, complete-bash, complete-zsh, complete-fish]' -r -f -a "man\t'Man page(s)'
complete-bash\t'bash completion'
complete-zsh\t'zsh completion'
complete-fish\t'fish completion'"
complete -c pbxctl -n "__fish_pbxctl_needs_command" -l out -d 'Doelmap voor --generate [standaard: .]' -r -F
complete -c pbxctl -n "__fish_pbxctl_needs_command" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -s V -l version -d 'Toon de versie'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "tenant" -d 'Organisaties'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "user" -d 'Gebruikers van een organisatie'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "extension" -d 'Extensies (toestelnummers)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "trunk" -d 'SIP-trunks'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "queue" -d 'Wachtrijen'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "belplan" -d 'Belplan van een organisatie'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "contact" -d 'Contacten (leads)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "calls" -d 'Toon de lopende gesprekken met hun kanten'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "call" -d 'Een lopend gesprek'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "alarm" -d 'Alarmen: tonen, bevestigen, tijdelijk stil zetten'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "history" -d 'Historie per minuut, uur of dag: gesprekken, ASR, duur, piek, MOS, registraties, beschikbaarheid van een trunk'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "registrations" -d 'Toon de registraties van toestellen'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "cdr" -d 'Gespreksoverzicht (CDR\'s)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "report" -d 'Gespreksrapport over een periode: aantallen, ASR, NER, duur, drukste uren, kwaliteit en meest voorkomende foutoorzaken'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "trace" -d 'Toon het SIP-verloop van een gesprek als ladder, met de berichten (inloggegevens geredigeerd)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "check" -d 'Controleer conf.d zonder pbxd (dezelfde lader als pbxd)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "plan" -d 'Toon het verschil tussen conf.d en de draaiende toestand'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "apply" -d 'Toon het verschil tussen conf.d en de draaiende toestand en voer het door'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "export" -d 'Exporteer alles als JSON-regels'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "import" -d 'Importeer een export in een lege opslag'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "audit" -d 'Toon het auditlog'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "status" -d 'Toon de toestand van pbxd'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "reload" -d 'Laat pbxd de configuratie opnieuw laden (eerst gecontroleerd)'
complete -c pbxctl -n "__fish_pbxctl_needs_command" -f -a "api" -d 'Roep een willekeurig eindpunt van de API aan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "add" -d 'Maak een organisatie aan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "list" -d 'Toon alle organisaties'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "show" -d 'Toon een organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "set" -d 'Wijzig een organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "suspend" -d 'Schort een organisatie op (geen gesprekken, gegevens blijven)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "resume" -d 'Hervat een opgeschorte organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "toll-fraud" -d 'Toon de tellers van de belfraudebewaking (buitengesprekken nu, internationaal en betaalnummers in het laatste uur, geblokkeerde gesprekken)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and not __fish_seen_subcommand_from add list show set suspend resume toll-fraud remove" -f -a "remove" -d 'Verwijder een organisatie (met --force ook als er nog extensies zijn)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l name -d 'Naam van de organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l domain -d 'SIP-domein (herhaalbaar; het eerste is de realm)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l max-extensions -d 'Maximum aantal extensies' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l max-calls -d 'Maximum aantal gelijktijdige gesprekken' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l max-outside-calls -d 'Maximum aantal gelijktijdige buitengesprekken' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l recording -d 'Gespreksopname: off, always of on_demand' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l retention-days -d 'Bewaartermijn van opnamen en gespreksoverzicht in dagen' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l international -d 'Internationale nummers toestaan (belfraude; standaard uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l betaalnummers -d 'Betaalnummers (0900, 0906, 0909, 18xx) toestaan (belfraude; standaard uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l max-international-per-hour -d 'Maximum internationale gesprekken per uur' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l max-betaalnummers-per-hour -d 'Maximum gesprekken naar betaalnummers per uur' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l max-call-secs -d 'Langste buitengesprek in seconden (niet voor 112)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l afcodering -d 'Afcodering voor de softphone, als code=Naam (herhaalbaar; vervangt de lijst; "" maakt leeg)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l afrondtijd -d 'Afrondtijd van de softphone in seconden (0: de agent zegt zelf wanneer)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from add" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from show" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from show" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from show" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from show" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from show" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l name -d 'Naam van de organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l domain -d 'SIP-domein (herhaalbaar; het eerste is de realm)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l max-extensions -d 'Maximum aantal extensies' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l max-calls -d 'Maximum aantal gelijktijdige gesprekken' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l max-outside-calls -d 'Maximum aantal gelijktijdige buitengesprekken' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l recording -d 'Gespreksopname: off, always of on_demand' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l retention-days -d 'Bewaartermijn van opnamen en gespreksoverzicht in dagen' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l international -d 'Internationale nummers toestaan (belfraude; standaard uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l betaalnummers -d 'Betaalnummers (0900, 0906, 0909, 18xx) toestaan (belfraude; standaard uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l max-international-per-hour -d 'Maximum internationale gesprekken per uur' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l max-betaalnummers-per-hour -d 'Maximum gesprekken naar betaalnummers per uur' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l max-call-secs -d 'Langste buitengesprek in seconden (niet voor 112)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l afcodering -d 'Afcodering voor de softphone, als code=Naam (herhaalbaar; vervangt de lijst; "" maakt leeg)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l afrondtijd -d 'Afrondtijd van de softphone in seconden (0: de agent zegt zelf wanneer)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from suspend" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from suspend" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from suspend" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from suspend" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from suspend" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from resume" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from resume" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from resume" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from resume" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from resume" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from toll-fraud" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from toll-fraud" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from toll-fraud" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from toll-fraud" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from toll-fraud" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l dry-run -d 'Toon alleen wat er zou verdwijnen'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l force -d 'Verwijder ook wat ervan afhangt'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand tenant; and __fish_seen_subcommand_from remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "add" -d 'Maak een gebruiker aan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "list" -d 'Toon de gebruikers van een organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "set" -d 'Wijzig een gebruiker'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "passwd" -d 'Stel het wachtwoord in (gelezen van standaardinvoer)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "totp" -d 'Zet inloggen met TOTP (tweestapsverificatie) aan of uit; het geheim wordt eenmalig getoond'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "lock" -d 'Blokkeer een gebruiker'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "unlock" -d 'Deblokkeer een gebruiker'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and not __fish_seen_subcommand_from add list set passwd totp lock unlock remove" -f -a "remove" -d 'Verwijder een gebruiker'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l name -d 'Volledige naam' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l email -d 'E-mailadres' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l role -d 'Rol: beheerder, organisatiebeheerder, manager, supervisor of agent' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l permission -d 'Belrechten, bijvoorbeeld nationaal of intern,mobiel (112 mag altijd)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l password-stdin -d 'Lees het wachtwoord van standaardinvoer'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from add" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l name -d 'Volledige naam' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l email -d 'E-mailadres' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l role -d 'Rol: beheerder, organisatiebeheerder, manager, supervisor of agent' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l permission -d 'Belrechten, bijvoorbeeld nationaal of intern,mobiel (112 mag altijd)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from passwd" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from passwd" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from passwd" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from passwd" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from passwd" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from totp" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from totp" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from totp" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from totp" -l disable -d 'Zet TOTP uit in plaats van aan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from totp" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from totp" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from lock" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from lock" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from lock" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from lock" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from lock" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from unlock" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from unlock" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from unlock" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from unlock" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from unlock" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -l dry-run -d 'Toon alleen wat er zou verdwijnen'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -l force -d 'Verwijder ook wat ervan afhangt'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand user; and __fish_seen_subcommand_from remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -f -a "add" -d 'Maak een extensie aan; zonder wachtwoord maakt pbxd een sterk wachtwoord en toont het eenmalig'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -f -a "list" -d 'Toon de extensies van een organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -f -a "show" -d 'Toon een extensie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -f -a "set" -d 'Wijzig een extensie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -f -a "reset-password" -d 'Maak een nieuw SIP-wachtwoord (eenmalig getoond)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and not __fish_seen_subcommand_from add list show set reset-password remove" -f -a "remove" -d 'Verwijder een extensie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l name -d 'Weergavenaam' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l owner -d 'Eigenaar (gebruikersnaam; leeg maakt los)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l codecs -d 'Codecs in volgorde, bijvoorbeeld opus,G722,PCMA' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l forward-always -d 'Altijd doorschakelen naar dit nummer (leeg zet uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l forward-busy -d 'Doorschakelen bij bezet (leeg zet uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l forward-no-answer -d 'Doorschakelen bij geen antwoord (leeg zet uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l no-answer-secs -d 'Seconden voor doorschakelen bij geen antwoord' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l recording -d 'Gespreksopname: off, always of on_demand' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l max-registrations -d 'Maximum gelijktijdige registraties' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l password-stdin -d 'Lees het SIP-wachtwoord van standaardinvoer'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from add" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from show" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from show" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from show" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from show" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from show" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l name -d 'Weergavenaam' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l owner -d 'Eigenaar (gebruikersnaam; leeg maakt los)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l codecs -d 'Codecs in volgorde, bijvoorbeeld opus,G722,PCMA' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l forward-always -d 'Altijd doorschakelen naar dit nummer (leeg zet uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l forward-busy -d 'Doorschakelen bij bezet (leeg zet uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l forward-no-answer -d 'Doorschakelen bij geen antwoord (leeg zet uit)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l no-answer-secs -d 'Seconden voor doorschakelen bij geen antwoord' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l recording -d 'Gespreksopname: off, always of on_demand' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l max-registrations -d 'Maximum gelijktijdige registraties' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from reset-password" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from reset-password" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from reset-password" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from reset-password" -l password-stdin -d 'Lees het SIP-wachtwoord van standaardinvoer'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from reset-password" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from reset-password" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -l dry-run -d 'Toon alleen wat er zou verdwijnen'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -l force -d 'Verwijder ook wat ervan afhangt'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand extension; and __fish_seen_subcommand_from remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -f -a "add" -d 'Maak een trunk aan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -f -a "list" -d 'Toon de trunks van een organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -f -a "show" -d 'Toon een trunk (zonder geheim)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -f -a "set" -d 'Wijzig een trunk'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -f -a "remove" -d 'Verwijder een trunk'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and not __fish_seen_subcommand_from add list show set remove status" -f -a "status" -d 'Toon de toestand van de trunks: registratie, bereikbaarheid (OPTIONS) en RTT'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l host -d 'Host of adres van de provider' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l port -d 'Poort van de provider' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l transport -d 'Transport: udp, tcp of tls' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l register -d 'Registreer bij de provider (true/false) [mogelijk: true, false]' -r -f -a "true\t''
false\t''"
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l username -d 'Gebruikersnaam bij de provider (leeg verwijdert de inloggegevens)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l expires -d 'Registratieduur in seconden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l allow -d 'Toegestaan bronadres of -netwerk (herhaalbaar)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l did -d 'DID die de provider levert (herhaalbaar)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l caller-id -d 'Uitgaand nummer (leeg maakt leeg)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l max-channels -d 'Maximum aantal kanalen' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l codecs -d 'Codecs in volgorde' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l priority -d 'Prioriteit in een trunkgroep (lager eerst)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l enabled -d 'In gebruik (true/false) [mogelijk: true, false]' -r -f -a "true\t''
false\t''"
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l secret-stdin -d 'Lees het geheim van standaardinvoer'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from add" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from show" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from show" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from show" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from show" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from show" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l host -d 'Host of adres van de provider' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l port -d 'Poort van de provider' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l transport -d 'Transport: udp, tcp of tls' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l register -d 'Registreer bij de provider (true/false) [mogelijk: true, false]' -r -f -a "true\t''
false\t''"
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l username -d 'Gebruikersnaam bij de provider (leeg verwijdert de inloggegevens)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l expires -d 'Registratieduur in seconden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l allow -d 'Toegestaan bronadres of -netwerk (herhaalbaar)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l did -d 'DID die de provider levert (herhaalbaar)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l caller-id -d 'Uitgaand nummer (leeg maakt leeg)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l max-channels -d 'Maximum aantal kanalen' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l codecs -d 'Codecs in volgorde' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l priority -d 'Prioriteit in een trunkgroep (lager eerst)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l enabled -d 'In gebruik (true/false) [mogelijk: true, false]' -r -f -a "true\t''
false\t''"
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l secret-stdin -d 'Lees het geheim van standaardinvoer'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -l dry-run -d 'Toon alleen wat er zou verdwijnen'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -l force -d 'Verwijder ook wat ervan afhangt'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from status" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from status" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from status" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from status" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from status" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trunk; and __fish_seen_subcommand_from status" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -f -a "add" -d 'Maak een wachtrij aan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -f -a "list" -d 'Toon de wachtrijen van een organisatie'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -f -a "status" -d 'Toon de wachtrijen live: wachtenden, agenten, cijfers van vandaag'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -f -a "set" -d 'Wijzig een wachtrij'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -f -a "members" -d 'Toon of wijzig de agenten van een wachtrij'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and not __fish_seen_subcommand_from add list status set members remove" -f -a "remove" -d 'Verwijder een wachtrij'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l name -d 'Naam' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l strategy -d 'Strategie: ringall, leastrecent, fewestcalls, random, roundrobin' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l ring-timeout -d 'Seconden dat een agent gebeld wordt' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l max-wait -d 'Maximale wachttijd in seconden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l wrapup -d 'Afrondtijd in seconden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l overflow -d 'Bestemming na de maximale wachttijd: extension:N, queue:N, belgroep:N, announcement:NAAM, hangup:CODE' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l moh -d 'Wachtmuziek' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from add" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from status" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from status" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l name -d 'Naam' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l strategy -d 'Strategie: ringall, leastrecent, fewestcalls, random, roundrobin' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l ring-timeout -d 'Seconden dat een agent gebeld wordt' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l max-wait -d 'Maximale wachttijd in seconden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l wrapup -d 'Afrondtijd in seconden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l overflow -d 'Bestemming na de maximale wachttijd: extension:N, queue:N, belgroep:N, announcement:NAAM, hangup:CODE' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l moh -d 'Wachtmuziek' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -l add -d 'Voeg toe: gebruiker of gebruiker:penalty (herhaalbaar)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -l remove -d 'Haal weg (herhaalbaar)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from members" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -l dry-run -d 'Toon alleen wat er zou verdwijnen'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -l force -d 'Verwijder ook wat ervan afhangt'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand queue; and __fish_seen_subcommand_from remove" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -f -a "show" -d 'Toon het belplan'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and not __fish_seen_subcommand_from show set" -f -a "set" -d 'Vervang het belplan door een bestand (TOML met [[rule]] en [[schedule]], of JSON; - is standaardinvoer)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from show" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from show" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from show" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from show" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from show" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from set" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from set" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from set" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from set" -l dry-run -d 'Controleer alleen; verander niets'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from set" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand belplan; and __fish_seen_subcommand_from set" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -f -a "import" -d 'Importeer contacten uit CSV (kolommen name, company, phone…, tags, notes; overige kolommen worden vrije velden)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -f -a "find" -d 'Zoek contacten op naam, bedrijf, label of nummer'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and not __fish_seen_subcommand_from import find list" -f -a "list" -d 'Toon contacten'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from import" -l batch -d 'Contacten per verzoek [standaard: 1000]' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from import" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from import" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from import" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from import" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from import" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -l phone -d 'Zoek exact op telefoonnummer' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -l limit -d 'Maximum aantal resultaten [standaard: 20]' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from find" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -l offset -d ' [standaard: 0]' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -l limit -d ' [standaard: 50]' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand contact; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand calls" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand calls" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand calls" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand calls" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand calls" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand calls" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and not __fish_seen_subcommand_from hangup" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and not __fish_seen_subcommand_from hangup" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and not __fish_seen_subcommand_from hangup" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and not __fish_seen_subcommand_from hangup" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and not __fish_seen_subcommand_from hangup" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and not __fish_seen_subcommand_from hangup" -f -a "hangup" -d 'Beëindig een gesprek (beide kanten krijgen BYE of een foutantwoord)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and __fish_seen_subcommand_from hangup" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and __fish_seen_subcommand_from hangup" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and __fish_seen_subcommand_from hangup" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and __fish_seen_subcommand_from hangup" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand call; and __fish_seen_subcommand_from hangup" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -f -a "list" -d 'Toon de alarmen (eerst wat afgaat, nieuwste eerst)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -f -a "ack" -d 'Bevestig een alarm: geen herinneringen meer zolang het afgaat'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and not __fish_seen_subcommand_from list ack silence" -f -a "silence" -d 'Zet de meldingen van een alarm een tijd stil'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from list" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from ack" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from ack" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from ack" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from ack" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from ack" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from silence" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from silence" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from silence" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from silence" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand alarm; and __fish_seen_subcommand_from silence" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l per -d 'minuut, uur of dag [standaard: uur]' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l trunk -d 'Alleen deze trunk (met --tenant)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l from -d 'Vanaf (lokale tijd); standaard 60 perioden terug' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l to -d 'Tot (lokale tijd); standaard nu' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand history" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand registrations" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand registrations" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand registrations" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand registrations" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand registrations" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand registrations" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -f -a "list" -d 'Toon gesprekken'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -f -a "show" -d 'Toon één gesprek met de gesprekskwaliteit per kant'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and not __fish_seen_subcommand_from list show export" -f -a "export" -d 'Exporteer gesprekken als CSV of JSON-regels'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l from -d 'Vanaf (lokale tijd): 2026-11-21, "2026-11-21 14:00" of RFC 3339' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l to -d 'Tot (lokale tijd, niet inbegrepen)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l number -d 'Nummer van beller of gebelde bevat dit' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l afloop -d 'Afloop: beantwoord, geen_antwoord, bezet, mislukt, geannuleerd' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l limit -d 'Maximum aantal (de nieuwste)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from list" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from show" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from show" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from show" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from show" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from show" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l from -d 'Vanaf (lokale tijd): 2026-11-21, "2026-11-21 14:00" of RFC 3339' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l to -d 'Tot (lokale tijd, niet inbegrepen)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l number -d 'Nummer van beller of gebelde bevat dit' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l afloop -d 'Afloop: beantwoord, geen_antwoord, bezet, mislukt, geannuleerd' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l limit -d 'Maximum aantal (de nieuwste)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l csv -d 'CSV (standaard)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l jsonl -d 'JSON, één gesprek per regel'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand cdr; and __fish_seen_subcommand_from export" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l tenant -d 'Alleen deze organisatie (zonder: alle die u mag zien, met een regel per organisatie)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l trunk -d 'Alleen gesprekken over deze trunk' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l from -d 'Vanaf (lokale tijd): 2026-11-21, "2026-11-21 14:00" of RFC 3339; standaard 30 dagen geleden' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l to -d 'Tot (lokale tijd, niet inbegrepen); standaard nu' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l csv -d 'Uitvoer als CSV met de kolommen organisatie,sleutel,waarde (één cijfer per regel)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand report" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trace" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trace" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trace" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trace" -l ladder-only -d 'Alleen de ladder, zonder de berichten'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trace" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand trace" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand check" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand check" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand check" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand check" -l deny-warnings -d 'Behandel waarschuwingen als fouten'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand check" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand check" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand plan" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand plan" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand plan" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand plan" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand plan" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand apply" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand apply" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand apply" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand apply" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand apply" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -s o -l output -d 'Schrijf naar een bestand in plaats van standaarduitvoer' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -l with-secrets -d 'Neem geheimen op (wachtwoordhashes, HA1, trunkgeheimen in klare tekst)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand export" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand import" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand import" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand import" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand import" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand import" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -l tenant -d 'Alleen deze organisatie' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -l limit -d 'Aantal regels (de nieuwste) [standaard: 50]' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand audit" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand status" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand status" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand status" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand status" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand status" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand reload" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand reload" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand reload" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand reload" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand reload" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand api" -s X -l method -d 'HTTP-methode (GET, POST, PUT, PATCH, DELETE)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand api" -l lang -d 'Taal: nl of en (standaard uit LANG, anders nl)' -r
complete -c pbxctl -n "__fish_pbxctl_using_subcommand api" -l socket -d 'Pad van de control-socket [omgevingsvariabele: PBXCTL_SOCKET]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand api" -l config -d 'Configuratiemap van pbxd (voor check, plan, apply en het socketpad) [omgevingsvariabele: PBXD_CONFIG]' -r -F
complete -c pbxctl -n "__fish_pbxctl_using_subcommand api" -s h -l help -d 'Toon deze hulp'
complete -c pbxctl -n "__fish_pbxctl_using_subcommand api" -l json -d 'Uitvoer als JSON (stabiel, voor scripts)'
