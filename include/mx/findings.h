/* The finding codes of SPEC section 2, in the SPEC's order. One table gives
 * the enum, the CSV label, the severity and the texts for `mxscan check`. */
#ifndef MX_FINDINGS_H
#define MX_FINDINGS_H

#include <stdint.h>

enum mx_severity { MX_SEV_INFO, MX_SEV_WARN, MX_SEV_ERROR };

/* X(ENUM, label, severity, why it matters, what to change) */
#define MX_FINDINGS_MAP(X)                                                                      \
    X(DOMAIN_INVALID_NAME, "domain_invalid_name", ERROR,                                        \
      "The input line is not a valid domain name, so nothing was looked up.",                  \
      "Fix the name in the input list (letters, digits, hyphens; labels of 1-63 octets).")       \
    X(DOMAIN_NXDOMAIN, "domain_nxdomain", INFO, "The domain does not exist in the DNS.",        \
      "Nothing to fix unless the domain should exist: check its registration and delegation.")  \
    X(DOMAIN_LOOKUP_FAILED, "domain_lookup_failed", WARN,                                       \
      "The MX query failed (SERVFAIL, REFUSED or timeout): senders will defer mail.",          \
      "Check the domain's authoritative servers and delegation (dig +trace MX).")               \
    X(MX_NONE_IMPLICIT, "mx_none_implicit", WARN,                                               \
      "No MX record: senders fall back to the domain's A/AAAA host (implicit MX).",            \
      "Publish an MX record, or a null MX (0 .) if the domain sends and receives no mail.")    \
    X(MX_NONE_NO_MAIL, "mx_none_no_mail", INFO,                                                 \
      "No MX and no address: the domain cannot receive mail.",                                  \
      "Publish a null MX (0 .) to say so explicitly, so senders fail fast.")                    \
    X(MX_NULL, "mx_null", INFO, "A null MX (RFC 7505): the domain accepts no mail.",             \
      "Nothing to fix if the domain should receive no mail.")                                   \
    X(MX_NULL_MIXED, "mx_null_mixed", ERROR,                                                    \
      "A null MX '.' stands beside other MX records or has a non-zero preference.",           \
      "Either publish '0 .' alone (no mail) or remove the '.' record.")                        \
    X(MX_IP_LITERAL, "mx_ip_literal", ERROR,                                                    \
      "An exchange is an IP address written as a name; senders look it up as a name and fail.", \
      "Point the MX at a host name that has A/AAAA records.")                                   \
    X(MX_TARGET_INVALID, "mx_target_invalid", ERROR,                                            \
      "An exchange is not a valid host name.",                                                  \
      "Use a host name of letters, digits and hyphens.")                                        \
    X(MX_ORIGIN_APPENDED, "mx_origin_appended", ERROR,                                          \
      "An exchange repeats the domain (name.example.com.example.com): a zone-file name was "   \
      "written without its trailing dot.",                                                      \
      "Add the trailing dot to the exchange name in the zone file.")                           \
    X(MX_LOCALHOST, "mx_localhost", ERROR,                                                      \
      "An exchange is named localhost: senders would deliver to themselves.",                   \
      "Point the MX at the real mail server.")                                                  \
    X(MX_CNAME, "mx_cname", ERROR,                                                              \
      "An exchange is an alias (CNAME), which RFC 2181 and RFC 5321 forbid.",                   \
      "Point the MX at the canonical name (the CNAME's target).")                              \
    X(MX_NXDOMAIN, "mx_nxdomain", ERROR, "An exchange does not exist (dangling MX).",             \
      "Remove the MX record or create the host.")                                               \
    X(MX_NO_ADDRESS, "mx_no_address", ERROR, "An exchange exists but has no A or AAAA record.", \
      "Add an address record for the exchange, or remove it from the MX set.")                 \
    X(MX_LOOKUP_FAILED, "mx_lookup_failed", WARN,                                               \
      "Resolving an exchange failed (SERVFAIL or timeout).",                                    \
      "Check the exchange's authoritative servers.")                                            \
    X(MX_PRIVATE_ADDRESS, "mx_private_address", ERROR,                                          \
      "An exchange resolves to an address that is not reachable from the Internet.",            \
      "Publish the mail server's public address.")                                             \
    X(MX_ALL_UNUSABLE, "mx_all_unusable", ERROR,                                                \
      "MX records exist but no exchange is usable: mail cannot be delivered.",                 \
      "Fix the exchanges listed above.")                                                        \
    X(MX_DUPLICATE, "mx_duplicate", WARN, "The same exchange is listed more than once.",        \
      "Keep one record per exchange.")                                                          \
    X(MX_PREF_ALL_EQUAL, "mx_pref_all_equal", INFO,                                             \
      "All exchanges share one preference: load is spread, there is no primary.",              \
      "Nothing to fix if that is intended; give a backup a higher value otherwise.")            \
    X(MX_BACKUP_PREFERRED, "mx_backup_preferred", WARN,                                         \
      "An exchange named as a backup is preferred over a primary.",                             \
      "Give the backup a higher preference value than the primary.")                           \
    X(MX_SAME_ADDRESSES, "mx_same_addresses", INFO,                                             \
      "All exchanges resolve to the same address set: no real redundancy.",                    \
      "Run the backup on another host if redundancy is wanted.")                                \
    X(MX_TTL_HIGH, "mx_ttl_high", WARN,                                                         \
      "The MX TTL is above one day: a change of mail provider takes long to reach senders.",    \
      "Lower the TTL (3600 s is common), above all before a migration.")                        \
    X(SPF_MISSING, "spf_missing", WARN, "No SPF record (v=spf1).",                              \
      "Publish an SPF record naming the hosts that send the domain's mail.")                   \
    X(SPF_MULTIPLE, "spf_multiple", ERROR, "More than one SPF record: a permanent error.",      \
      "Merge them into one record.")                                                            \
    X(SPF_SYNTAX, "spf_syntax", ERROR, "The SPF record does not parse: a permanent error.",      \
      "Fix the syntax of the record.")                                                          \
    X(SPF_INCLUDE_BROKEN, "spf_include_broken", ERROR,                                          \
      "An include or redirect target has no SPF record or fails to resolve.",                   \
      "Remove or correct the include/redirect.")                                                \
    X(SPF_LOOKUP_LIMIT, "spf_lookup_limit", ERROR,                                              \
      "More than 10 DNS-querying terms: receivers return permerror.",                           \
      "Flatten includes or remove unused ones.")                                                \
    X(SPF_VOID_LIMIT, "spf_void_limit", ERROR, "More than 2 void look-ups: permerror.",          \
      "Remove mechanisms that point at names without records.")                                \
    X(SPF_PASS_ALL, "spf_pass_all", ERROR, "+all: anyone may send as the domain.",             \
      "End the record with -all or ~all.")                                                     \
    X(SPF_NO_ENFORCEMENT, "spf_no_enforcement", INFO,                                           \
      "The record ends in ?all or has no all: it asks receivers for nothing.",                 \
      "End the record with ~all or -all.")                                                     \
    X(SPF_MX_NOT_COVERED, "spf_mx_not_covered", WARN,                                           \
      "A self-hosted exchange does not pass the domain's SPF.",                                 \
      "Add the exchange (e.g. the mx mechanism) to the SPF record.")                           \
    X(DMARC_MISSING, "dmarc_missing", WARN, "No DMARC record.",                                 \
      "Publish _dmarc.<domain> TXT \"v=DMARC1; p=none; rua=...\" and move to enforcement.")    \
    X(DMARC_INVALID, "dmarc_invalid", ERROR, "The DMARC record is invalid.",                     \
      "Fix the record: one record, v=DMARC1 first, a valid p= tag.")                           \
    X(DMARC_NONE, "dmarc_none", INFO, "DMARC policy p=none: monitoring only.",                  \
      "Move to p=quarantine or p=reject once reports look clean.")                              \
    X(DMARC_ENFORCED_WITHOUT_SPF, "dmarc_enforced_without_spf", WARN,                           \
      "DMARC enforces while SPF is missing or broken: legitimate mail may be rejected.",       \
      "Fix SPF before enforcing DMARC.")                                                        \
    X(PROVIDER_MISMATCH, "provider_mismatch", WARN,                                             \
      "The exchanges are at one mailbox provider, SPF authorizes another: an unfinished "      \
      "migration.",                                                                             \
      "Update SPF to the current provider and remove the former one.")                         \
    X(SMTP_UNREACHABLE, "smtp_unreachable", ERROR,                                              \
      "No usable exchange accepts a connection on port 25.", "Check the mail servers.")          \
    X(SMTP_HOST_UNREACHABLE, "smtp_host_unreachable", WARN,                                     \
      "Some usable exchange does not accept a connection on port 25.",                          \
      "Fix or remove the exchange.")                                                            \
    X(SMTP_REJECTS_DOMAIN, "smtp_rejects_domain", ERROR,                                        \
      "An exchange rejects mail for postmaster@domain (5xx).",                                  \
      "Configure the exchange to accept the domain, or remove it.")                            \
    X(SMTP_NO_STARTTLS, "smtp_no_starttls", WARN, "An exchange does not offer STARTTLS.",       \
      "Enable STARTTLS on the exchange.")                                                       \
    X(SMTP_TLS_FAILED, "smtp_tls_failed", ERROR,                                                \
      "An exchange advertises STARTTLS but the TLS handshake fails: senders that require TLS "  \
      "cannot deliver, the others defer or fall back to plain text.",                           \
      "Fix the server's TLS set-up (certificate and key, protocol versions, ciphers); test it " \
      "with openssl s_client -starttls smtp.")                                                  \
    X(SMTP_CERT_INVALID, "smtp_cert_invalid", WARN,                                             \
      "The exchange's certificate does not validate for its name (expired, self-signed, wrong " \
      "name or incomplete chain): senders that authenticate TLS (MTA-STS) refuse it.",          \
      "Install a certificate from a public CA that names the exchange, with its full chain, "   \
      "and renew it before it expires.")                                                        \
    X(MTA_STS_INVALID, "mta_sts_invalid", ERROR,                                                \
      "The MTA-STS record or policy is broken: several records, bad syntax or no id (RFC 8461 "  \
      "section 3.1), a policy that cannot be fetched over validated HTTPS with status 200 and "   \
      "no redirect (section 3.3), or one that does not parse (section 3.2): senders cannot "      \
      "apply it.",                                                                              \
      "Publish one _mta-sts TXT record \"v=STSv1; id=...\" and serve the policy at "            \
      "https://mta-sts.<domain>/.well-known/mta-sts.txt as text/plain, with a certificate "      \
      "valid for that name (RFC 8461 sections 3.1 to 3.3).")                                     \
    X(MTA_STS_MX_MISMATCH, "mta_sts_mx_mismatch", ERROR,                                        \
      "An exchange matches none of the MTA-STS policy's mx: patterns (RFC 8461 section 4.1): "   \
      "senders that honour an enforce policy will not deliver to it.",                          \
      "Add the exchange to the policy's mx: lines (\"*.\" covers one label) and change the "     \
      "record's id=, or remove the exchange (RFC 8461 sections 3.2 and 4.1).")                   \
    X(MTA_STS_TLS_FAILS, "mta_sts_tls_fails", ERROR,                                            \
      "The MTA-STS policy says enforce, but an exchange offers no STARTTLS or no certificate "  \
      "valid for its name (RFC 8461 section 4.2): compliant senders will not deliver to it "     \
      "(section 5).",                                                                           \
      "Fix TLS on the exchange first (a certificate from a public CA naming it), or set the "    \
      "policy to mode: testing until it works.")                                                 \
    X(TLSRPT_INVALID, "tlsrpt_invalid", WARN,                                                   \
      "The TLS-RPT record (_smtp._tls) is invalid (RFC 8460 section 3): nobody can report "      \
      "failed TLS deliveries to the domain.",                                                   \
      "Publish one record \"v=TLSRPTv1; rua=mailto:...\" (mailto: or https: URIs, RFC 8460 "     \
      "section 3).")                                                                            \
    X(TLSRPT_MISSING, "tlsrpt_missing", INFO,                                                   \
      "MTA-STS or DANE is deployed but there is no TLS-RPT record (RFC 8460 section 3): failed " \
      "TLS deliveries go unreported.",                                                          \
      "Publish _smtp._tls.<domain> TXT \"v=TLSRPTv1; rua=mailto:...\" to receive reports.")     \
    X(DANE_TLSA_UNSIGNED, "dane_tlsa_unsigned", WARN,                                           \
      "An exchange has TLSA records, but the answer is not DNSSEC-validated: senders ignore "   \
      "them (RFC 7672 section 2.2).",                                                           \
      "Sign the exchange's zone with DNSSEC (and publish its DS record), or remove the TLSA "   \
      "records.")                                                                               \
    X(DANE_TLSA_INVALID, "dane_tlsa_invalid", ERROR,                                            \
      "Validated TLSA records of an exchange are unusable (unknown usage, selector or matching " \
      "type; wrong digest length; PKIX-TA/PKIX-EE usages, RFC 7672 section 3.1.3): DANE "        \
      "senders cannot authenticate the exchange with them (RFC 7672 section 3.1).",             \
      "Publish TLSA records with usage 2 or 3, selector 0 or 1 and matching type 1 or 2 "      \
      "(a SHA-256 or SHA-512 digest of the right length).")                                     \
    X(DANE_TLSA_MISMATCH, "dane_tlsa_mismatch", ERROR,                                          \
      "Validated TLSA records match none of the certificates the exchange presents, or it "     \
      "offers no TLS (RFC 7672 sections 3.1.1, 3.1.2 and 3.2): DANE senders will not deliver "   \
      "(section 2.2).",                                                                         \
      "Publish TLSA records for the current certificate or key (before a roll-over), then "     \
      "remove the stale ones; a DANE-TA record needs its CA in the chain the server sends.")   \
    X(DANE_PARTIAL, "dane_partial", WARN,                                                       \
      "Some exchanges have validated TLSA records and others have none: DANE protects only "    \
      "part of the delivery paths (RFC 7672 section 2.2).",                                     \
      "Publish TLSA records for every exchange (or for none).")                                \
    X(NS_MX_INCONSISTENT, "ns_mx_inconsistent", WARN,                                           \
      "The domain's authoritative servers answer with different MX sets: where mail goes "      \
      "depends on the server a sender happens to ask.",                                         \
      "Bring every server up to date (check zone transfers and the SOA serials).")            \
    X(NS_SERIAL_MISMATCH, "ns_serial_mismatch", INFO,                                           \
      "The authoritative servers serve different SOA serials: a zone transfer is pending or "   \
      "broken.",                                                                                \
      "Check that the secondaries get NOTIFY and transfer the zone; nothing to do if the "     \
      "change is minutes old.")                                                                 \
    X(NS_LAME, "ns_lame", WARN,                                                                 \
      "A server named in the delegation does not answer authoritatively for the domain, or "    \
      "not at all: look-ups are slower, and fail once the other servers are down.",             \
      "Remove the server from the NS records (in the zone and at the parent), or serve the "    \
      "zone on it.")

enum mx_finding {
#define X(e, label, sev, why, fix) MX_F_##e,
    MX_FINDINGS_MAP(X)
#undef X
    MX_F_COUNT
};

/* The codes from this one on come from the opt-in checks of SPEC 1.7 (SMTP
 * probe, MTA-STS, TLS-RPT, DANE, consistency); the default checks (MX, SPF,
 * DMARC) report only the codes before it. */
#define MX_F_FIRST_OPT_IN MX_F_SMTP_UNREACHABLE

typedef uint64_t mx_findings_t; /* bit (1 << enum mx_finding) */
#define MX_FBIT(f) ((mx_findings_t)1 << (f))

const char *mx_finding_label(enum mx_finding f);
enum mx_severity mx_finding_severity(enum mx_finding f);
const char *mx_finding_why(enum mx_finding f);
const char *mx_finding_fix(enum mx_finding f);
const char *mx_severity_name(enum mx_severity s);
/* Returns MX_F_COUNT when unknown. */
enum mx_finding mx_finding_from_label(const char *label);

#endif
