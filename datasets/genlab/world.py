"""The lab's fixed facts: the zones NSD serves, the mailbox providers and
gateways with their exchange suffixes and SPF include names, the address
ranges that count as global (the scanner's --allow-address), and the dead
server behind the lame delegations."""
import ipaddress

ALLOW = "198.51.100.0/24,203.0.113.0/24,2001:db8:1::/48"
ALLOW_NETS = [ipaddress.ip_network(n) for n in ALLOW.split(",")]

ZONES = ["", "test", "google.com", "outlook.com", "yahoodns.net", "yahoo.com",
         "zoho.com", "pphosted.com", "mimecast.com"]

# Providers: name -> (kind, exchange suffixes, include names)
PROVIDERS = {
    "google": ("mailbox", ["google.com", "googlemail.com"], ["_spf.google.com"]),
    "microsoft": ("mailbox", ["mail.protection.outlook.com", "outlook.com"],
                  ["spf.protection.outlook.com"]),
    "yahoo": ("mailbox", ["yahoodns.net"], ["_spf.mail.yahoo.com"]),
    "zoho": ("mailbox", ["zoho.com"], ["zoho.com", "one.zoho.com"]),
    "proofpoint": ("gateway", ["pphosted.com"], ["pphosted.com"]),
    "mimecast": ("gateway", ["mimecast.com"], ["_netblocks.mimecast.com"]),
}
INCLUDE_PROVIDER = {inc: p for p, (_, _, incs) in PROVIDERS.items() for inc in incs}

LAME_ADDR = "127.0.0.99"   # nothing listens there on port 53
