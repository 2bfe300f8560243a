/*
 * hello-fcgi: the ceiling for scripts/bench. The plainest libfcgi pool
 * there is: N forked processes in the classic FCGX_Accept_r loop on one
 * socket, each answering a fixed 50-byte JSON body. Whatever mkpd costs
 * beyond this is mkpd's.
 *
 * usage: hello-fcgi SOCKET-PATH|HOST:PORT WORKERS
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

static const char answer[] =
    "Status: 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\n"
    "Content-Length: 49\r\n\r\n"
    "{\"resultCode\":\"000000\",\"resultMsg\":\"success\"}    ";

static void
serve(int sock)
{
	FCGX_Request	req;

	FCGX_InitRequest(&req, sock, 0);
	while (FCGX_Accept_r(&req) >= 0) {
		FCGX_PutStr(answer, (int)sizeof(answer) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	exit(0);
}

int
main(int argc, char **argv)
{
	int	sock, n, i;

	if (argc != 3 || (n = atoi(argv[2])) < 1 || n > 256) {
		fprintf(stderr, "usage: hello-fcgi SOCKET WORKERS\n");
		return 2;
	}
	if (FCGX_Init() != 0 || (sock = FCGX_OpenSocket(argv[1], 511)) < 0) {
		fprintf(stderr, "hello-fcgi: cannot listen on %s\n", argv[1]);
		return 1;
	}
	for (i = 0; i < n; i++)
		if (fork() == 0)
			serve(sock);
	signal(SIGTERM, SIG_IGN);
	/* Children die with the process group (scripts/bench kills it). */
	while (wait(NULL) > 0)
		;
	return 0;
}
