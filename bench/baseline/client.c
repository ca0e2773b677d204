/*
 * qmp-client: the physical-limit QMP client. A plain blocking unix socket
 * that only counts newlines: it never parses JSON and never matches ids.
 *
 *   qmp-client SOCKET_PATH MODE N
 *
 * MODE:
 *   connect  N x (connect, read greeting, send qmp_capabilities, read reply, close)
 *   seq      N sequential query-status round trips
 *   pipe     N query-status in flight: a writer thread sends while the main
 *            thread reads, so neither side can deadlock on full buffers
 *   schema   N sequential query-qmp-schema round trips
 *   events   one bench-events {"count": N}: N events, then the reply
 *
 * Prints one JSON line: {"mode","n","ns","lines","bytes"} where ns is the
 * wall time of the measured part (negotiation excluded except in connect
 * mode) and lines/bytes are what was received during it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct {
  int fd;
  uint64_t lines;
  uint64_t bytes;
  char buf[1 << 16];
} conn_t;

static const char CAPS[] = "{\"execute\":\"qmp_capabilities\"}\n";

static void die(const char *what) {
  perror(what);
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int dial(const char *path) {
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof addr.sun_path) {
    fprintf(stderr, "qmp-client: socket path too long\n");
    exit(2);
  }
  strcpy(addr.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
  return fd;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    p += w;
    n -= (size_t)w;
  }
}

/* Read until `target` newlines in total have been received. */
static void wait_lines(conn_t *c, uint64_t target) {
  while (c->lines < target) {
    ssize_t r = read(c->fd, c->buf, sizeof c->buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("read");
    }
    if (r == 0) {
      fprintf(stderr, "qmp-client: server closed the connection after %llu lines\n",
              (unsigned long long)c->lines);
      exit(1);
    }
    c->bytes += (uint64_t)r;
    const char *p = c->buf;
    const char *end = c->buf + r;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
      c->lines++;
      p++;
    }
  }
}

static void open_session(conn_t *c, const char *path) {
  c->fd = dial(path);
  c->lines = 0;
  c->bytes = 0;
  wait_lines(c, 1); /* greeting */
  write_all(c->fd, CAPS, sizeof CAPS - 1);
  wait_lines(c, 2);
}

typedef struct {
  int fd;
  long n;
} writer_arg_t;

static void *pipe_writer(void *p) {
  writer_arg_t *a = p;
  static char chunk[1 << 16];
  size_t used = 0;
  for (long i = 0; i < a->n; i++) {
    if (used + 64 > sizeof chunk) {
      write_all(a->fd, chunk, used);
      used = 0;
    }
    used += (size_t)snprintf(chunk + used, 64, "{\"execute\":\"query-status\",\"id\":%ld}\n", i);
  }
  write_all(a->fd, chunk, used);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s SOCKET_PATH connect|seq|pipe|schema|events N\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  const char *mode = argv[2];
  long n = strtol(argv[3], NULL, 10);
  if (n <= 0) {
    fprintf(stderr, "qmp-client: N must be positive\n");
    return 2;
  }
  static conn_t c;
  uint64_t t0, t1, lines0 = 0, bytes0 = 0, lines = 0, bytes = 0;
  char req[128];

  if (strcmp(mode, "connect") == 0) {
    t0 = now_ns();
    for (long i = 0; i < n; i++) {
      open_session(&c, path);
      close(c.fd);
      lines += c.lines;
      bytes += c.bytes;
    }
    t1 = now_ns();
  } else {
    open_session(&c, path);
    lines0 = c.lines;
    bytes0 = c.bytes;
    t0 = now_ns();
    if (strcmp(mode, "seq") == 0 || strcmp(mode, "schema") == 0) {
      const char *cmd = mode[1] == 'e' ? "query-status" : "query-qmp-schema";
      for (long i = 0; i < n; i++) {
        int k = snprintf(req, sizeof req, "{\"execute\":\"%s\",\"id\":%ld}\n", cmd, i);
        write_all(c.fd, req, (size_t)k);
        wait_lines(&c, lines0 + (uint64_t)i + 1);
      }
    } else if (strcmp(mode, "pipe") == 0) {
      writer_arg_t arg = {c.fd, n};
      pthread_t th;
      if (pthread_create(&th, NULL, pipe_writer, &arg) != 0) die("pthread_create");
      wait_lines(&c, lines0 + (uint64_t)n);
      pthread_join(th, NULL);
    } else if (strcmp(mode, "events") == 0) {
      int k = snprintf(req, sizeof req,
                       "{\"execute\":\"bench-events\",\"arguments\":{\"count\":%ld},\"id\":1}\n", n);
      write_all(c.fd, req, (size_t)k);
      wait_lines(&c, lines0 + (uint64_t)n + 1);
    } else {
      fprintf(stderr, "qmp-client: unknown mode %s\n", mode);
      return 2;
    }
    t1 = now_ns();
    lines = c.lines - lines0;
    bytes = c.bytes - bytes0;
    close(c.fd);
  }
  printf("{\"mode\":\"%s\",\"n\":%ld,\"ns\":%llu,\"lines\":%llu,\"bytes\":%llu}\n", mode, n,
         (unsigned long long)(t1 - t0), (unsigned long long)lines, (unsigned long long)bytes);
  return 0;
}
