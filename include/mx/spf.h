/* SPF (RFC 7208): record selection, parser, static tree analysis (SPEC
 * "SPF limits are static") and check_host(). All DNS data comes through an
 * mx_oracle, so every function may answer "pending": call again once the
 * scanner has the answers. */
#ifndef MX_SPF_H
#define MX_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mx/addr.h"
#include "mx/findings.h"
#include "mx/oracle.h"

#define MX_SPF_MAX_INCLUDES 32 /* distinct include/redirect targets remembered */
#define MX_SPF_MAX_LOOKUPS 10  /* RFC 7208 4.6.4: DNS-querying terms */
#define MX_SPF_MAX_VOIDS 2     /* RFC 7208 4.6.4: void look-ups */

enum mx_spf_result {
    MX_SPF_NONE,
    MX_SPF_NEUTRAL,
    MX_SPF_PASS,
    MX_SPF_FAIL,
    MX_SPF_SOFTFAIL,
    MX_SPF_TEMPERROR,
    MX_SPF_PERMERROR,
    MX_SPF_PENDING /* not a result: DNS answers are missing, call again */
};
const char *mx_spf_result_name(enum mx_spf_result r);

struct mx_spf_info {
    bool pending;            /* answers missing: call again */
    unsigned nrecords;       /* v=spf1 records among the domain's TXT */
    bool txt_failed;         /* the domain's TXT look-up failed (SERVFAIL/timeout) */
    bool parsed;             /* exactly one record, and it parses */
    unsigned lookups;        /* DNS-querying terms over the whole tree */
    unsigned voids;          /* void look-ups over the whole tree */
    mx_findings_t findings;  /* spf_missing .. spf_no_enforcement (not spf_mx_not_covered) */
    char record[1024];       /* the (first) record, cut to fit */
    /* every include/redirect target reached in the tree (for providers) */
    unsigned n_includes;
    char includes[MX_SPF_MAX_INCLUDES][254];
    enum mx_spf_result result; /* see mx_spf_analyze */
    char all[8];             /* the effective all: "+all" "-all" "~all" "?all", "" none/unknown */
    char error[512];         /* why spf_syntax/spf_include_broken/limits, "" otherwise */
};

/* Static analysis of the SPF record of domain. Returns false while pending.
 * result (added): the verdict a receiver reaches whatever the client address:
 * MX_SPF_NONE no record, MX_SPF_TEMPERROR the domain's TXT look-up failed (or
 * the only breakage is an include/redirect target that failed to resolve),
 * MX_SPF_PERMERROR spf_multiple/spf_syntax/spf_include_broken/
 * spf_lookup_limit/spf_void_limit, MX_SPF_NEUTRAL otherwise (the outcome
 * depends on the client address; use mx_spf_check_host). */
bool mx_spf_analyze(struct mx_oracle *o, const char *domain, struct mx_spf_info *out);

struct mx_spf_trace {
    char term[256];      /* the term that decided the result, "" for default */
    unsigned lookups;    /* DNS-querying terms evaluated */
    unsigned voids;      /* void look-ups met */
    char explain[256];   /* why a permerror/temperror/none happened */
    char explanation[512]; /* fail only, mx_spf_check_host_explain: the domain's
                              exp= text, expanded; "" when none */
};

/* check_host(ip, domain, sender) of RFC 7208 section 4. helo may be NULL.
 * Returns MX_SPF_PENDING while answers are missing. The ptr mechanism and
 * %{p} look up the PTR records of ip and validate at most 10 of the names
 * (A or AAAA, RFC 7208 5.5); explanations are not fetched. */
enum mx_spf_result mx_spf_check_host(struct mx_oracle *o, const struct mx_ip *ip,
                                     const char *domain, const char *sender, const char *helo,
                                     struct mx_spf_trace *trace);
/* check_host(), and on "fail" the explanation of RFC 7208 6.2: the exp=
 * of the record that failed (not one of an included record), its TXT
 * record expanded (now is %{t}; %{r} is "unknown") into trace->explanation.
 * Only `mxscan spf` asks for it: a scan never fetches explanations. */
enum mx_spf_result mx_spf_check_host_explain(struct mx_oracle *o, const struct mx_ip *ip,
                                             const char *domain, const char *sender,
                                             const char *helo, uint64_t now,
                                             struct mx_spf_trace *trace);

/* --- Parser (RFC 7208 sections 4.5, 4.6, 5, 6, 7), used by the analysis,
 * check_host and the fuzz target. No allocation: terms point into the text. */

/* The TXT record is an SPF record: "v=spf1" (any case) then SP or the end. */
bool mx_spf_is_record(const char *txt, size_t len);

enum mx_spf_kind {
    MX_SPF_K_ALL,
    MX_SPF_K_INCLUDE,
    MX_SPF_K_A,
    MX_SPF_K_MX,
    MX_SPF_K_PTR,
    MX_SPF_K_IP4,
    MX_SPF_K_IP6,
    MX_SPF_K_EXISTS,
    MX_SPF_K_REDIRECT, /* modifiers from here */
    MX_SPF_K_EXP,
    MX_SPF_K_UNKNOWN /* unknown-modifier name=value */
};

struct mx_spf_term {
    enum mx_spf_kind kind;
    char qualifier;          /* '+' '-' '~' '?' ('+' when absent; 0 for modifiers) */
    const char *text;        /* the whole term */
    size_t len;
    const char *domain;      /* domain-spec (NULL when absent), value of unknown modifiers */
    size_t domain_len;
    bool macro;              /* domain contains a macro-expand (%{..}, %%, %_, %-) */
    struct mx_ip ip;         /* ip4/ip6 network */
    uint8_t cidr4, cidr6;    /* prefix lengths: 32/128 unless given */
};

struct mx_spf_record {
    const char *txt;         /* the record, not copied */
    size_t len;
    unsigned nterms;         /* terms after v=spf1 */
    unsigned ndns;           /* DNS-querying mechanisms (include a mx ptr exists) */
    bool has_all;            /* an all mechanism; all_qualifier of the first one */
    char all_qualifier;
    bool has_redirect;       /* redirect= (at most once); redirect.domain is its target */
    struct mx_spf_term redirect;
    bool has_exp;
};

/* Parses a whole record (must start with v=spf1). A syntax error anywhere
 * is false (permerror), with the reason in err (may be NULL). */
bool mx_spf_parse(const char *txt, size_t len, struct mx_spf_record *out, char *err,
                  size_t errlen);
/* Iterates the terms of a record that parsed: size_t off = 0;
 * while (mx_spf_next_term(&rec, &off, &t)) ... */
bool mx_spf_next_term(const struct mx_spf_record *rec, size_t *off, struct mx_spf_term *t);

/* Macro expansion (RFC 7208 section 7) for check_host. */
struct mx_spf_macro_ctx {
    const struct mx_ip *ip;  /* %{i} %{c} %{v} */
    const char *sender;      /* %{s}; %{l} and %{o} are its parts */
    const char *domain;      /* %{d}: the current domain */
    const char *helo;        /* %{h}; NULL: the current domain */
    const char *ptr;         /* %{p}: the validated name of ip; NULL: "unknown" */
    const char *receiver;    /* %{r} (explanations only); NULL: "unknown" */
    uint64_t now;            /* %{t} (explanations only): seconds since the epoch */
};
/* Expands a macro-string into out (NUL-terminated): every letter of RFC
 * 7208 7.3, transformers (digits, r), delimiters (.-+,/_=), %% %_ %- and
 * the URL escaping of upper-case letters. false on a syntax error or when
 * out is too small. Whether c, r, t may appear is the parser's business. */
bool mx_spf_expand(const struct mx_spf_macro_ctx *c, const char *s, size_t len, char *out,
                   size_t outlen);
/* Expands a domain-spec to the name to look up: ASCII lowercase, no
 * trailing dot, left labels dropped while longer than 253 octets (RFC 7208
 * 4.8). Any octet may stand in a label (%_ is a space, %% a '%'); the
 * result is an oracle name, a backslash written "\\" (ares_create_query's
 * escape). false when it is no domain name (empty or over-long label). */
bool mx_spf_expand_domain(const struct mx_spf_macro_ctx *c, const char *spec, size_t len,
                          char *out, size_t outlen);
/* Expands the text of an explanation (RFC 7208 6.2: explain-string, where
 * c, r and t are allowed). false when it has a byte outside visible ASCII
 * and space, or a bad macro: the explanation is then ignored. */
bool mx_spf_expand_explain(const struct mx_spf_macro_ctx *c, const char *s, size_t len,
                           char *out, size_t outlen);
/* The macro-string s[0..len) uses the macro letter (lower case) anywhere. */
bool mx_spf_uses_macro(const char *s, size_t len, char letter);

/* RFC 7208 4.3: domain is usable as check_host()'s <domain> (lowercase, no
 * trailing dot): at most 253 octets, two labels or more, each of 1 to 63
 * octets, and not an address literal ("[192.0.2.1]", or an all-numeric top
 * label). check_host() gives "none" for any other. */
bool mx_spf_domain_ok(const char *domain);

#endif
