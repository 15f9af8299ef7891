/* The one string hash of the project: 64-bit FNV-1a. Shards (--shard),
 * the shared cache, fingerprints and memo tables use it; a second copy
 * somewhere is a place where a fix would be missed. */
#ifndef MX_HASH_H
#define MX_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MX_FNV1A_INIT 0xcbf29ce484222325ull /* 14695981039346656037 */
#define MX_FNV1A_PRIME 1099511628211ull

static inline uint64_t mx_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= MX_FNV1A_PRIME;
    }
    return h;
}

#endif
