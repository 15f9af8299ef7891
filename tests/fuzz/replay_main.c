/* Replays a fuzz corpus directory through LLVMFuzzerTestOneInput once,
 * so every ctest run exercises the inputs that libFuzzer found. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int main(int argc, char **argv);

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    struct dirent *e;
    unsigned n = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        unsigned char *buf = malloc(1 << 20);
        size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
        fclose(f);
        if (buf) {
            LLVMFuzzerTestOneInput(buf, len);
            free(buf);
            n++;
        }
    }
    closedir(d);
    printf("replayed %u inputs from %s\n", n, argv[1]);
    if (n == 0) {
        fprintf(stderr, "empty corpus: %s\n", argv[1]);
        return 1;
    }
    return 0;
}
