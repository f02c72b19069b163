#include <stdio.h>
int compute(char *buf);
static char buf[8192];
int main(void) { int n = compute(buf); fwrite(buf, 1, (size_t)n, stdout); return 0; }
