/* Placeholder until the scanner lands. */
#include <stdio.h>
int main(void);
int main(void)
{
    fputs("mxscan: not built yet\n", stderr);
    return 1;
}
