// canary.c: one deliberate bug per sanitizer. .ci/csan.sh runs it first and
// requires each sanitizer to report its bug, so a clean stress run means the
// sanitizer looked, not that it was silently off.
//
// Usage: canary race|heap|ub

#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int shared; // written by two threads without synchronisation

static void *writer(void *arg) {
	(void)arg;
	for (int i = 0; i < 1000; i++)
		shared++;
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 2)
		return 2;
	if (strcmp(argv[1], "race") == 0) {
		pthread_t a, b;
		pthread_create(&a, NULL, writer, NULL);
		pthread_create(&b, NULL, writer, NULL);
		pthread_join(a, NULL);
		pthread_join(b, NULL);
		printf("%d\n", shared);
	} else if (strcmp(argv[1], "heap") == 0) {
		// A use after free: only ASan sees it (UBSan's object-size check
		// would catch an overflow first). volatile keeps the load.
		int *volatile p = malloc(4 * sizeof(int));
		free(p);
		printf("%d\n", p[0]);
	} else if (strcmp(argv[1], "ub") == 0) {
		volatile int big = INT_MAX;
		printf("%d\n", big + 1);
	} else {
		return 2;
	}
	return 0;
}
