//! The command line of pbxctl (noun–verb, English command names, Dutch help).

use clap::{Args, Parser, Subcommand};
use pbx_cli::Generate;
use std::path::PathBuf;

/// Beheer van pbxd: organisaties, gebruikers, extensies, trunks, wachtrijen, belplannen en contacten.
#[derive(Parser, Debug)]
#[command(
    name = "pbxctl",
    version,
    about,
    long_about = "Beheer van pbxd: organisaties, gebruikers, extensies, trunks, wachtrijen, belplannen en contacten.\n\npbxctl praat met pbxd via de control-socket (standaard /run/pbxd/control.sock); check controleert conf.d zonder pbxd.\n\nAfsluitcodes: 0 gelukt, 1 problemen gevonden (check), 64 verkeerd gebruik, 65 ongeldige invoer of configuratie, 66 bestaat niet, 69 pbxd draait niet, 70 interne fout, 76 protocolfout, 77 geen rechten."
)]
pub struct Cli {
    /// Uitvoer als JSON (stabiel, voor scripts)
    #[arg(long, global = true)]
    pub json: bool,
    /// Taal: nl of en (standaard uit LANG, anders nl)
    #[arg(long, global = true, value_name = "TAAL")]
    pub lang: Option<String>,
    /// Pad van de control-socket
    #[arg(long, global = true, env = "PBXCTL_SOCKET", value_name = "PAD")]
    pub socket: Option<PathBuf>,
    /// Configuratiemap van pbxd (voor check, plan, apply en het socketpad)
    #[arg(long, global = true, env = "PBXD_CONFIG", value_name = "MAP")]
    pub config: Option<PathBuf>,
    /// Schrijf manpagina's of shell-completions (voor de verpakking)
    #[arg(long, hide = true, value_enum, value_name = "SOORT")]
    pub generate: Option<Generate>,
    /// Doelmap voor --generate
    #[arg(long, hide = true, default_value = ".", value_name = "MAP")]
    pub out: PathBuf,
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Organisaties
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Gebruikers van een organisatie
    #[command(subcommand)]
    User(UserCmd),
    /// Extensies (toestelnummers)
    #[command(subcommand)]
    Extension(ExtensionCmd),
    /// SIP-trunks
    #[command(subcommand)]
    Trunk(TrunkCmd),
    /// Wachtrijen
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Belplan van een organisatie
    #[command(subcommand)]
    Belplan(BelplanCmd),
    /// Contacten (leads)
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Toon de lopende gesprekken met hun kanten
    Calls {
        /// Alleen deze organisatie
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Een lopend gesprek
    #[command(subcommand)]
    Call(CallCmd),
    /// Alarmen: tonen, bevestigen, tijdelijk stil zetten
    #[command(subcommand)]
    Alarm(AlarmCmd),
    /// Historie per minuut, uur of dag: gesprekken, ASR, duur, piek, MOS, registraties,
    /// beschikbaarheid van een trunk
    History {
        /// minuut, uur of dag
        #[arg(long, default_value = "uur")]
        per: String,
        /// Alleen deze organisatie
        #[arg(long)]
        tenant: Option<String>,
        /// Alleen deze trunk (met --tenant)
        #[arg(long)]
        trunk: Option<String>,
        /// Vanaf (lokale tijd); standaard 60 perioden terug
        #[arg(long, value_name = "TIJD")]
        from: Option<String>,
        /// Tot (lokale tijd); standaard nu
        #[arg(long, value_name = "TIJD")]
        to: Option<String>,
    },
    /// Toon de registraties van toestellen
    Registrations {
        /// Alleen deze organisatie
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Gespreksoverzicht (CDR's)
    #[command(subcommand)]
    Cdr(CdrCmd),
    /// Gespreksrapport over een periode: aantallen, ASR, NER, duur, drukste uren, kwaliteit en
    /// meest voorkomende foutoorzaken
    Report(ReportArgs),
    /// Toon het SIP-verloop van een gesprek als ladder, met de berichten (inloggegevens geredigeerd)
    Trace {
        /// Call-ID van het gesprek
        #[arg(value_name = "CALL-ID")]
        call_id: String,
        /// Alleen de ladder, zonder de berichten
        #[arg(long)]
        ladder_only: bool,
    },
    /// Controleer conf.d zonder pbxd (dezelfde lader als pbxd)
    Check(CheckArgs),
    /// Toon het verschil tussen conf.d en de draaiende toestand
    Plan(PlanArgs),
    /// Toon het verschil tussen conf.d en de draaiende toestand en voer het door
    Apply(PlanArgs),
    /// Exporteer alles als JSON-regels
    Export(ExportArgs),
    /// Importeer een export in een lege opslag
    Import(ImportArgs),
    /// Toon het auditlog
    Audit(AuditArgs),
    /// Toon de toestand van pbxd
    Status,
    /// Laat pbxd de configuratie opnieuw laden (eerst gecontroleerd)
    Reload,
    /// Roep een willekeurig eindpunt van de API aan
    Api(ApiArgs),
}

#[derive(Args, Debug, Default)]
pub struct TenantOpts {
    /// Naam van de organisatie
    #[arg(long)]
    pub name: Option<String>,
    /// SIP-domein (herhaalbaar; het eerste is de realm)
    #[arg(long = "domain", value_name = "DOMEIN")]
    pub domains: Vec<String>,
    /// Maximum aantal extensies
    #[arg(long, value_name = "N")]
    pub max_extensions: Option<u32>,
    /// Maximum aantal gelijktijdige gesprekken
    #[arg(long, value_name = "N")]
    pub max_calls: Option<u32>,
    /// Maximum aantal gelijktijdige buitengesprekken
    #[arg(long, value_name = "N")]
    pub max_outside_calls: Option<u32>,
    /// Gespreksopname: off, always of on_demand
    #[arg(long, value_name = "BELEID")]
    pub recording: Option<String>,
    /// Bewaartermijn van opnamen en gespreksoverzicht in dagen
    #[arg(long, value_name = "DAGEN")]
    pub retention_days: Option<u32>,
    /// Internationale nummers toestaan (belfraude; standaard uit)
    #[arg(long, value_name = "AAN|UIT")]
    pub international: Option<String>,
    /// Betaalnummers (0900, 0906, 0909, 18xx) toestaan (belfraude; standaard uit)
    #[arg(long, value_name = "AAN|UIT")]
    pub betaalnummers: Option<String>,
    /// Maximum internationale gesprekken per uur
    #[arg(long, value_name = "N")]
    pub max_international_per_hour: Option<u32>,
    /// Maximum gesprekken naar betaalnummers per uur
    #[arg(long, value_name = "N")]
    pub max_betaalnummers_per_hour: Option<u32>,
    /// Langste buitengesprek in seconden (niet voor 112)
    #[arg(long, value_name = "SEC")]
    pub max_call_secs: Option<u32>,
    /// Afcodering voor de softphone, als code=Naam (herhaalbaar; vervangt de lijst; "" maakt leeg)
    #[arg(long = "afcodering", value_name = "CODE=NAAM")]
    pub afcoderingen: Vec<String>,
    /// Afrondtijd van de softphone in seconden (0: de agent zegt zelf wanneer)
    #[arg(long, value_name = "SEC")]
    pub afrondtijd: Option<u32>,
}

#[derive(Args, Debug)]
pub struct Removal {
    /// Toon alleen wat er zou verdwijnen
    #[arg(long)]
    pub dry_run: bool,
    /// Verwijder ook wat ervan afhangt
    #[arg(long)]
    pub force: bool,
}

#[derive(Subcommand, Debug)]
pub enum TenantCmd {
    /// Maak een organisatie aan
    Add {
        /// Korte naam (a-z, 0-9, -)
        slug: String,
        #[command(flatten)]
        opts: TenantOpts,
    },
    /// Toon alle organisaties
    List,
    /// Toon een organisatie
    Show { slug: String },
    /// Wijzig een organisatie
    Set {
        slug: String,
        #[command(flatten)]
        opts: TenantOpts,
    },
    /// Schort een organisatie op (geen gesprekken, gegevens blijven)
    Suspend { slug: String },
    /// Hervat een opgeschorte organisatie
    Resume { slug: String },
    /// Toon de tellers van de belfraudebewaking (buitengesprekken nu, internationaal en
    /// betaalnummers in het laatste uur, geblokkeerde gesprekken)
    #[command(name = "toll-fraud", alias = "belfraude")]
    TollFraud { slug: Option<String> },
    /// Verwijder een organisatie (met --force ook als er nog extensies zijn)
    Remove {
        slug: String,
        #[command(flatten)]
        removal: Removal,
    },
}

#[derive(Args, Debug, Default)]
pub struct UserOpts {
    /// Volledige naam
    #[arg(long)]
    pub name: Option<String>,
    /// E-mailadres
    #[arg(long)]
    pub email: Option<String>,
    /// Rol: beheerder, organisatiebeheerder, manager, supervisor of agent
    #[arg(long)]
    pub role: Option<String>,
    /// Belrechten, bijvoorbeeld nationaal of intern,mobiel (112 mag altijd)
    #[arg(long, value_name = "KLASSEN")]
    pub permission: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Maak een gebruiker aan
    Add {
        tenant: String,
        username: String,
        #[command(flatten)]
        opts: UserOpts,
        /// Lees het wachtwoord van standaardinvoer
        #[arg(long)]
        password_stdin: bool,
    },
    /// Toon de gebruikers van een organisatie
    List { tenant: String },
    /// Wijzig een gebruiker
    Set {
        tenant: String,
        username: String,
        #[command(flatten)]
        opts: UserOpts,
    },
    /// Stel het wachtwoord in (gelezen van standaardinvoer)
    Passwd { tenant: String, username: String },
    /// Zet inloggen met TOTP (tweestapsverificatie) aan of uit; het geheim wordt eenmalig getoond
    Totp {
        tenant: String,
        username: String,
        /// Zet TOTP uit in plaats van aan
        #[arg(long)]
        disable: bool,
    },
    /// Blokkeer een gebruiker
    Lock { tenant: String, username: String },
    /// Deblokkeer een gebruiker
    Unlock { tenant: String, username: String },
    /// Verwijder een gebruiker
    Remove {
        tenant: String,
        username: String,
        #[command(flatten)]
        removal: Removal,
    },
}

#[derive(Args, Debug, Default)]
pub struct ExtensionOpts {
    /// Weergavenaam
    #[arg(long)]
    pub name: Option<String>,
    /// Eigenaar (gebruikersnaam; leeg maakt los)
    #[arg(long)]
    pub owner: Option<String>,
    /// Codecs in volgorde, bijvoorbeeld opus,G722,PCMA
    #[arg(long, value_name = "LIJST")]
    pub codecs: Option<String>,
    /// Altijd doorschakelen naar dit nummer (leeg zet uit)
    #[arg(long, value_name = "NUMMER")]
    pub forward_always: Option<String>,
    /// Doorschakelen bij bezet (leeg zet uit)
    #[arg(long, value_name = "NUMMER")]
    pub forward_busy: Option<String>,
    /// Doorschakelen bij geen antwoord (leeg zet uit)
    #[arg(long, value_name = "NUMMER")]
    pub forward_no_answer: Option<String>,
    /// Seconden voor doorschakelen bij geen antwoord
    #[arg(long, value_name = "SEC")]
    pub no_answer_secs: Option<u32>,
    /// Gespreksopname: off, always of on_demand
    #[arg(long)]
    pub recording: Option<String>,
    /// Maximum gelijktijdige registraties
    #[arg(long, value_name = "N")]
    pub max_registrations: Option<u8>,
}

#[derive(Subcommand, Debug)]
pub enum ExtensionCmd {
    /// Maak een extensie aan; zonder wachtwoord maakt pbxd een sterk wachtwoord en toont het eenmalig
    Add {
        tenant: String,
        number: String,
        #[command(flatten)]
        opts: ExtensionOpts,
        /// Lees het SIP-wachtwoord van standaardinvoer
        #[arg(long)]
        password_stdin: bool,
    },
    /// Toon de extensies van een organisatie
    List { tenant: String },
    /// Toon een extensie
    Show { tenant: String, number: String },
    /// Wijzig een extensie
    Set {
        tenant: String,
        number: String,
        #[command(flatten)]
        opts: ExtensionOpts,
    },
    /// Maak een nieuw SIP-wachtwoord (eenmalig getoond)
    ResetPassword {
        tenant: String,
        number: String,
        /// Lees het SIP-wachtwoord van standaardinvoer
        #[arg(long)]
        password_stdin: bool,
    },
    /// Verwijder een extensie
    Remove {
        tenant: String,
        number: String,
        #[command(flatten)]
        removal: Removal,
    },
}

#[derive(Args, Debug, Default)]
pub struct TrunkOpts {
    /// Host of adres van de provider
    #[arg(long)]
    pub host: Option<String>,
    /// Poort van de provider
    #[arg(long)]
    pub port: Option<u16>,
    /// Transport: udp, tcp of tls
    #[arg(long)]
    pub transport: Option<String>,
    /// Registreer bij de provider (true/false)
    #[arg(long, value_name = "JA/NEE")]
    pub register: Option<bool>,
    /// Gebruikersnaam bij de provider (leeg verwijdert de inloggegevens)
    #[arg(long)]
    pub username: Option<String>,
    /// Lees het geheim van standaardinvoer
    #[arg(long)]
    pub secret_stdin: bool,
    /// Registratieduur in seconden
    #[arg(long, value_name = "SEC")]
    pub expires: Option<u32>,
    /// Toegestaan bronadres of -netwerk (herhaalbaar)
    #[arg(long = "allow", value_name = "NET")]
    pub allow: Vec<String>,
    /// DID die de provider levert (herhaalbaar)
    #[arg(long = "did", value_name = "NUMMER")]
    pub dids: Vec<String>,
    /// Uitgaand nummer (leeg maakt leeg)
    #[arg(long, value_name = "NUMMER")]
    pub caller_id: Option<String>,
    /// Maximum aantal kanalen
    #[arg(long, value_name = "N")]
    pub max_channels: Option<u32>,
    /// Codecs in volgorde
    #[arg(long, value_name = "LIJST")]
    pub codecs: Option<String>,
    /// Prioriteit in een trunkgroep (lager eerst)
    #[arg(long)]
    pub priority: Option<u32>,
    /// In gebruik (true/false)
    #[arg(long, value_name = "JA/NEE")]
    pub enabled: Option<bool>,
}

#[derive(Subcommand, Debug)]
pub enum TrunkCmd {
    /// Maak een trunk aan
    Add {
        tenant: String,
        name: String,
        #[command(flatten)]
        opts: TrunkOpts,
    },
    /// Toon de trunks van een organisatie
    List { tenant: String },
    /// Toon een trunk (zonder geheim)
    Show { tenant: String, name: String },
    /// Wijzig een trunk
    Set {
        tenant: String,
        name: String,
        #[command(flatten)]
        opts: TrunkOpts,
    },
    /// Verwijder een trunk
    Remove {
        tenant: String,
        name: String,
        #[command(flatten)]
        removal: Removal,
    },
    /// Toon de toestand van de trunks: registratie, bereikbaarheid (OPTIONS) en RTT
    Status {
        /// Alleen deze organisatie
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Args, Debug, Default)]
pub struct QueueOpts {
    /// Naam
    #[arg(long)]
    pub name: Option<String>,
    /// Strategie: ringall, leastrecent, fewestcalls, random, roundrobin
    #[arg(long)]
    pub strategy: Option<String>,
    /// Seconden dat een agent gebeld wordt
    #[arg(long, value_name = "SEC")]
    pub ring_timeout: Option<u32>,
    /// Maximale wachttijd in seconden
    #[arg(long, value_name = "SEC")]
    pub max_wait: Option<u32>,
    /// Afrondtijd in seconden
    #[arg(long, value_name = "SEC")]
    pub wrapup: Option<u32>,
    /// Bestemming na de maximale wachttijd: extension:N, queue:N, belgroep:N, announcement:NAAM, hangup:CODE
    #[arg(long, value_name = "DOEL")]
    pub overflow: Option<String>,
    /// Wachtmuziek
    #[arg(long)]
    pub moh: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Maak een wachtrij aan
    Add {
        tenant: String,
        number: String,
        #[command(flatten)]
        opts: QueueOpts,
    },
    /// Toon de wachtrijen van een organisatie
    List { tenant: String },
    /// Toon de wachtrijen live: wachtenden, agenten, cijfers van vandaag
    Status {
        /// Alleen deze organisatie (standaard: alle waar je bij mag)
        tenant: Option<String>,
    },
    /// Wijzig een wachtrij
    Set {
        tenant: String,
        number: String,
        #[command(flatten)]
        opts: QueueOpts,
    },
    /// Toon of wijzig de agenten van een wachtrij
    Members {
        tenant: String,
        number: String,
        /// Voeg toe: gebruiker of gebruiker:penalty (herhaalbaar)
        #[arg(long = "add", value_name = "GEBRUIKER[:PENALTY]")]
        add: Vec<String>,
        /// Haal weg (herhaalbaar)
        #[arg(long = "remove", value_name = "GEBRUIKER")]
        remove: Vec<String>,
    },
    /// Verwijder een wachtrij
    Remove {
        tenant: String,
        number: String,
        #[command(flatten)]
        removal: Removal,
    },
}

#[derive(Subcommand, Debug)]
pub enum BelplanCmd {
    /// Toon het belplan
    Show { tenant: String },
    /// Vervang het belplan door een bestand (TOML met [[rule]] en [[schedule]], of JSON; - is standaardinvoer)
    Set {
        tenant: String,
        file: PathBuf,
        /// Controleer alleen; verander niets
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ContactCmd {
    /// Importeer contacten uit CSV (kolommen name, company, phone…, tags, notes; overige kolommen worden vrije velden)
    Import {
        tenant: String,
        file: PathBuf,
        /// Contacten per verzoek
        #[arg(long, default_value_t = 1000, value_name = "N")]
        batch: usize,
    },
    /// Zoek contacten op naam, bedrijf, label of nummer
    Find {
        tenant: String,
        /// Zoektekst
        query: Option<String>,
        /// Zoek exact op telefoonnummer
        #[arg(long)]
        phone: Option<String>,
        /// Maximum aantal resultaten
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Toon contacten
    List {
        tenant: String,
        #[arg(long, default_value_t = 0)]
        offset: usize,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}
#[derive(Subcommand, Debug)]
pub enum AlarmCmd {
    /// Toon de alarmen (eerst wat afgaat, nieuwste eerst)
    List {
        /// Alleen deze organisatie
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Bevestig een alarm: geen herinneringen meer zolang het afgaat
    Ack {
        /// Id van het alarm (regel of regel:sleutel, zie pbxctl alarm list)
        id: String,
    },
    /// Zet de meldingen van een alarm een tijd stil
    Silence {
        /// Id van het alarm
        id: String,
        /// Minuten (1 tot 10080)
        #[arg(value_name = "MINUTEN")]
        minutes: u64,
    },
}

#[derive(Subcommand, Debug)]
pub enum CallCmd {
    /// Beëindig een gesprek (beide kanten krijgen BYE of een foutantwoord)
    Hangup {
        /// Id van het gesprek (zie pbxctl calls)
        id: String,
    },
}

#[derive(Args, Debug, Default)]
pub struct CdrFilterArgs {
    /// Alleen deze organisatie
    #[arg(long)]
    pub tenant: Option<String>,
    /// Vanaf (lokale tijd): 2026-11-21, "2026-11-21 14:00" of RFC 3339
    #[arg(long, value_name = "TIJD")]
    pub from: Option<String>,
    /// Tot (lokale tijd, niet inbegrepen)
    #[arg(long, value_name = "TIJD")]
    pub to: Option<String>,
    /// Nummer van beller of gebelde bevat dit
    #[arg(long)]
    pub number: Option<String>,
    /// Afloop: beantwoord, geen_antwoord, bezet, mislukt, geannuleerd
    #[arg(long)]
    pub afloop: Option<String>,
    /// Maximum aantal (de nieuwste)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum CdrCmd {
    /// Toon gesprekken
    List {
        #[command(flatten)]
        filter: CdrFilterArgs,
    },
    /// Toon één gesprek met de gesprekskwaliteit per kant
    Show { tenant: String, id: String },
    /// Exporteer gesprekken als CSV of JSON-regels
    Export {
        #[command(flatten)]
        filter: CdrFilterArgs,
        /// CSV (standaard)
        #[arg(long, conflicts_with = "jsonl")]
        csv: bool,
        /// JSON, één gesprek per regel
        #[arg(long)]
        jsonl: bool,
    },
}

/// `pbxctl report`: figures over the CDRs of a period (see `report.rs`).
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Alleen deze organisatie (zonder: alle die u mag zien, met een regel per organisatie)
    #[arg(long)]
    pub tenant: Option<String>,
    /// Alleen gesprekken over deze trunk
    #[arg(long, value_name = "NAAM")]
    pub trunk: Option<String>,
    /// Vanaf (lokale tijd): 2026-11-21, "2026-11-21 14:00" of RFC 3339; standaard 30 dagen geleden
    #[arg(long, value_name = "TIJD")]
    pub from: Option<String>,
    /// Tot (lokale tijd, niet inbegrepen); standaard nu
    #[arg(long, value_name = "TIJD")]
    pub to: Option<String>,
    /// Uitvoer als CSV met de kolommen organisatie,sleutel,waarde (één cijfer per regel)
    #[arg(long)]
    pub csv: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Mappen (met pbxd.toml en tenants/) of losse .toml-bestanden; standaard de configuratiemap
    pub paths: Vec<PathBuf>,
    /// Behandel waarschuwingen als fouten
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Configuratiemap (standaard --config of /etc/pbxd)
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Neem geheimen op (wachtwoordhashes, HA1, trunkgeheimen in klare tekst)
    #[arg(long)]
    pub with_secrets: bool,
    /// Schrijf naar een bestand in plaats van standaarduitvoer
    #[arg(long, short = 'o', value_name = "BESTAND")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Exportbestand (- is standaardinvoer)
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Alleen deze organisatie
    #[arg(long)]
    pub tenant: Option<String>,
    /// Aantal regels (de nieuwste)
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Pad, bijvoorbeeld /v1/status
    pub endpoint: String,
    /// JSON-body, of - voor standaardinvoer (met body standaard POST)
    pub body: Option<String>,
    /// HTTP-methode (GET, POST, PUT, PATCH, DELETE)
    #[arg(long, short = 'X')]
    pub method: Option<String>,
}
