//! pbxd.toml(5): written by hand (clap describes commands, not files), shipped by `--generate man`.

/// The roff source of pbxd.toml(5), in Dutch.
pub const PBXD_TOML_5: &str = r#".TH PBXD.TOML 5 "" "pbxd" "Bestandsformaten"
.SH NAAM
pbxd.toml \- configuratie van pbxd
.SH OVERZICHT
.I /etc/pbxd/pbxd.toml
en
.I /etc/pbxd/tenants/*.toml
.SH BESCHRIJVING
pbxd leest bij de start en na SIGHUP de map met
.B pbxd.toml
(de daemon) en
.B tenants/*.toml
(een organisatie per bestand). Onbekende sleutels zijn fouten. Relatieve paden gelden ten opzichte van
de map van pbxd.toml. Controleer altijd eerst met
.BR "pbxctl check" ;
pbxd gebruikt dezelfde controle en weigert een configuratie met fouten.
.SH DAEMON (pbxd.toml)
.TP
.B language
Taal van meldingen: \fBnl\fR (standaard) of \fBen\fR.
.TP
.B default_tenant
Organisatie voor installaties zonder SIP-domein (alleen IP).
.TP
.B [[listen]] transport, address
Een SIP-listener: \fBudp\fR, \fBtcp\fR, \fBtls\fR, \fBws\fR of \fBwss\fR op een adres:poort (IPv4 of IPv6).
Twee TCP-achtige listeners op hetzelfde adres en dezelfde poort zijn een fout.
.TP
.B [rtp] port_min, port_max, public_address, media_timeout
Poortbereik voor RTP/RTCP (een even aantal poorten) en het publieke adres in SDP.
Een beantwoord gesprek zonder RTP van beide kanten wordt na \fBmedia_timeout\fR seconden
(standaard 60, 5 tot 86400) opgehangen; een gesprek in de wacht pas na een uur zonder RTP.
.TP
.B [tls] certificate, key
PEM-bestanden; verplicht voor tls- en wss-listeners en HTTPS. De sleutel mag niet leesbaar zijn voor anderen.
.TP
.B [http] address, tls
Het HTTP-eindpunt voor de softphone en /metrics. Zonder TLS alleen op een loopbackadres.
.TP
.B [sip] digest, rate_per_second, rate_burst, max_transactions
Digest-algoritmen in de volgorde waarin ze worden aangeboden (\fB"SHA-256"\fR, \fB"MD5"\fR), de
snelheidsgrens per bronadres (berichten per seconde en de toegestane piek) en het maximum aantal
lopende SIP-transacties (daarboven 503 met Retry-After).
.TP
.B [sip] keepalive_interval, keepalive_for
pbxd antwoordt altijd naar het bronadres van een verzoek en zet \fBreceived\fR en \fBrport\fR
(RFC 3581) in de bovenste Via. Een toestel achter NAT (Contact of Via noemt een ander adres dan de
bron) wordt gebeld op het bronadres van zijn registratie. Zulke UDP-registraties krijgen elke
\fBkeepalive_interval\fR seconden een OPTIONS (standaard 30, 0 tot 3600, 0 = uit), verspreid over de
interval. Drie onbeantwoorde op rij maken de registratie onbereikbaar: het toestel gaat dan niet
over, tot het weer antwoordt (elk antwoord telt) of opnieuw registreert. \fBkeepalive_for\fR:
\fBnat\fR (standaard) of \fBudp\fR (alle UDP-registraties). TCP- en TLS-registraties krijgen geen
OPTIONS: ze zijn bereikbaar zolang hun verbinding openstaat.
.TP
.B [control] socket, group, admin_group
De control-socket (standaard /run/pbxd/control.sock, modus 0660) en de groep die hem mag openen.
root en leden van \fBadmin_group\fR zijn beheerder.
.TP
.B [control.tenant_users]
Unix-gebruiker = organisatie: die gebruiker ziet en wijzigt alleen die organisatie.
.TP
.B [state] dir, secret_key_file, snapshot_keep
De statusmap (sled-opslag, secret.key, dagelijkse momentopnamen in snapshots/), een optioneel
sleutelbestand voor trunkgeheimen en het aantal momentopnamen dat bewaard blijft.
.TP
.B [log] dir, rotation, level, stderr
Logmap, rotatie (\fBdaily\fR, \fBhourly\fR, \fBnever\fR), tracing-filter en of er ook naar stderr gelogd wordt.
.SH ORGANISATIES (tenants/*.toml)
.TP
.B [tenant]
slug, name, domains, [tenant.limits] (max_extensions, max_calls, max_outside_calls), status, recording, retention_days.
.TP
.B [[user]]
username, name, email, role (beheerder, organisatiebeheerder, manager, supervisor, agent), password_hash
(alleen argon2id), permission (intern, vast_nationaal, mobiel, gratis, betaalnummers, internationaal,
nationaal, alles; 112 mag altijd).
.TP
.B [[extension]]
number, name, owner, password of password_file (wordt HA1; het bestand mag niet leesbaar zijn voor
anderen), codecs, [extension.forwarding] (always, busy, no_answer, no_answer_secs), recording,
max_registrations.
.TP
.B [[trunk]]
name, host, port, transport, register, username, secret of secret_file (versleuteld opgeslagen),
expires, allow, dids, caller_id, max_channels, codecs, priority, enabled.
.TP
.B [[queue]]
number, name, strategy (ringall, leastrecent, fewestcalls, random, roundrobin), members, ring_timeout_secs,
max_wait_secs, wrapup_secs (afrondtijd), overflow, moh (wachtmuziek).
.TP
.B [[ring_group]]
number, name, strategy (simultaan, opvolgend), members, timeout_secs, fallback.
.TP
.B [[schedule]]
Openingstijden: name, open (days, from, to), closed_dates.
.TP
.B [[rule]]
Belplanregel: match (pattern zoals _06XXXXXXXX, did, schedule, closed) en action (extension, queue,
belgroep, trunks, announcement, hangup). De eerste passende regel wint; een regel die nooit bereikt
wordt is een fout.
.SH ZIE OOK
.BR pbxd (8),
.BR pbxctl (8),
.BR pbxtop (1)
"#;
