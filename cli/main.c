#include <stdio.h>
int main(void) { puts("labvault " LV_VERSION); return 0; }
