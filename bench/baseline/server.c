/*
 * qmp-server: a minimal, fast QMP server used as the benchmark's reference
 * server. It is deliberately not qmpkit, so that it is never the bottleneck.
 *
 *   qmp-server SOCKET_PATH SCHEMA_FILE
 *
 * Listens on a unix socket, serves one client at a time (like QEMU), and
 * prints "READY" on stdout once it is listening. Per client:
 *   - sends a QEMU 7.2-shaped greeting;
 *   - qmp_capabilities      -> {"return": {}}
 *   - query-qmp-schema      -> {"return": <SCHEMA_FILE>}
 *   - bench-events {count}  -> `count` BENCH events, then {"return": {}}
 *   - anything else         -> a fixed query-status return
 * Every reply echoes the request's "id" text verbatim (none when it had none).
 * A request ends where its braces balance, as in QEMU's streamer: no newline is
 * needed. Requests are expected to be compact JSON (the benchmark writes them),
 * so the command name, "id" and "count" are found by a simple scan.
 *
 * Non-blocking socket + poll; many requests per read (pipelining) are
 * answered into one large output buffer that is written in big chunks, and
 * partial writes are resumed. Input is not read while the output buffer is
 * above a high-water mark, so memory stays bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define OUT_HIGH (8u << 20)   /* stop producing output above this many bytes */
#define READ_CHUNK (1u << 20) /* bytes asked for per read() */

typedef struct {
  char *p;
  size_t head; /* first unconsumed byte */
  size_t len;  /* end of data */
  size_t cap;
} buf_t;

static const char *g_sock_path;

static void die(const char *what) {
  perror(what);
  exit(1);
}

static size_t buf_size(const buf_t *b) { return b->len - b->head; }

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  if (b->head > 0) {
    size_t n = b->len - b->head;
    memmove(b->p, b->p + b->head, n);
    b->len = n;
    b->head = 0;
    if (b->len + extra <= b->cap) return;
  }
  size_t cap = b->cap ? b->cap : 65536;
  while (cap < b->len + extra) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) die("realloc");
  b->p = p;
  b->cap = cap;
}

static void buf_put(buf_t *b, const void *d, size_t n) {
  buf_reserve(b, n);
  memcpy(b->p + b->len, d, n);
  b->len += n;
}

#define PUT_LIT(b, s) buf_put((b), (s), sizeof(s) - 1)

static void buf_consume(buf_t *b, size_t n) {
  b->head += n;
  if (b->head == b->len) b->head = b->len = 0;
}

/* ---- the replies ---- */

static const char GREETING[] =
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, "
    "\"package\": \"\"}, \"capabilities\": [\"oob\"]}}\r\n";
static const char STATUS_RET[] = "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}";
static const char EMPTY_RET[] = "{\"return\": {}";
static const char EV_HEAD[] = "{\"event\": \"BENCH\", \"data\": {\"n\": ";
static const char EV_TAIL[] = "}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n";

/* The schema reply without its closing brace: `{"return": [...]` */
static char *g_schema;
static size_t g_schema_len;

/* Load the schema file. Accepts either the bare return value (`[...]`) or a
 * whole reply object (`{"return": [...]}`), formatted any way: it is
 * re-spaced the way QEMU writes JSON (one line, `": "` and `", "`), so the
 * reply has QEMU's size (~207 KB for 7.2). */
static void load_schema(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) die(path);
  buf_t raw = {0};
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_put(&raw, tmp, n);
  fclose(f);

  buf_t json = {0};
  buf_reserve(&json, raw.len + raw.len / 4 + 16);
  int in_str = 0;
  for (size_t i = 0; i < raw.len; i++) {
    char c = raw.p[i];
    if (in_str) {
      buf_put(&json, &c, 1);
      if (c == '\\' && i + 1 < raw.len) buf_put(&json, &raw.p[++i], 1);
      else if (c == '"') in_str = 0;
    } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    } else {
      buf_put(&json, &c, 1);
      if (c == '"') in_str = 1;
      else if (c == ',' || c == ':') PUT_LIT(&json, " ");
    }
  }
  free(raw.p);

  buf_t out = {0};
  if (json.len > 0 && json.p[0] == '[') {
    PUT_LIT(&out, "{\"return\": ");
    buf_put(&out, json.p, json.len);
  } else if (json.len > 0 && json.p[0] == '{' && json.p[json.len - 1] == '}') {
    buf_put(&out, json.p, json.len - 1);
  } else {
    fprintf(stderr, "qmp-server: %s is neither a JSON array nor a JSON object\n", path);
    exit(1);
  }
  free(json.p);
  g_schema = out.p;
  g_schema_len = out.len;
}

/* Close a reply whose body is already in `out`: echo the id if there is one. */
static void end_reply(buf_t *out, const char *id, size_t id_len) {
  if (id) {
    PUT_LIT(out, ", \"id\": ");
    buf_put(out, id, id_len);
  }
  PUT_LIT(out, "}\r\n");
}

/* ---- request scanning ---- */

/* Find `"key"` followed by optional blanks and a colon; return the first
 * non-blank byte after the colon, or NULL. */
static const char *find_key(const char *s, size_t n, const char *key, size_t key_len) {
  const char *end = s + n;
  const char *p = s;
  while (p < end) {
    const char *k = memmem(p, (size_t)(end - p), key, key_len);
    if (!k) return NULL;
    const char *q = k + key_len;
    while (q < end && (*q == ' ' || *q == '\t')) q++;
    if (q < end && *q == ':') {
      q++;
      while (q < end && (*q == ' ' || *q == '\t')) q++;
      return q < end ? q : NULL;
    }
    p = k + 1;
  }
  return NULL;
}

/* Length of the JSON value starting at p (string, number, literal, or a
 * nested object/array), string-aware. */
static size_t value_len(const char *p, const char *end) {
  const char *q = p;
  if (*q == '"') {
    for (q++; q < end; q++) {
      if (*q == '\\') q++;
      else if (*q == '"') return (size_t)(q + 1 - p);
    }
    return (size_t)(end - p);
  }
  if (*q == '{' || *q == '[') {
    int depth = 0;
    int in_str = 0;
    for (; q < end; q++) {
      char c = *q;
      if (in_str) {
        if (c == '\\') q++;
        else if (c == '"') in_str = 0;
      } else if (c == '"') {
        in_str = 1;
      } else if (c == '{' || c == '[') {
        depth++;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) return (size_t)(q + 1 - p);
      }
    }
    return (size_t)(end - p);
  }
  while (q < end && *q != ',' && *q != '}' && *q != ']' && *q != ' ' && *q != '\t' && *q != '\r') q++;
  return (size_t)(q - p);
}

/* ---- per-client state ---- */

typedef struct {
  int fd;
  buf_t in;
  size_t scanned; /* bytes after in.head already scanned for the end of a message */
  int depth, in_str, esc; /* the scan's state: brace depth, inside a string, after a backslash */
  size_t msg_end; /* length of the complete message at in.head, 0 while there is none */
  int eof;
  buf_t out;
  /* a bench-events command in progress */
  unsigned long long ev_left;
  unsigned long long ev_next;
  char ev_id[256];
  size_t ev_id_len;
  int ev_has_id;
} client_t;

static void handle_line(client_t *c, const char *line, size_t n) {
  const char *end = line + n;
  const char *id = find_key(line, n, "\"id\"", 4);
  size_t id_len = id ? value_len(id, end) : 0;
  const char *cmd = find_key(line, n, "\"execute\"", 9);
  if (!cmd) cmd = find_key(line, n, "\"exec-oob\"", 10);
  if (!cmd || *cmd != '"') {
    /* blank lines are ignored, like QEMU's parser does */
    int blank = 1;
    for (size_t i = 0; i < n; i++)
      if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') blank = 0;
    if (blank) return;
    PUT_LIT(&c->out, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"qmp-server: no execute\"}");
    end_reply(&c->out, id, id_len);
    return;
  }
  cmd++;
  const char *cmd_end = memchr(cmd, '"', (size_t)(end - cmd));
  size_t cmd_len = cmd_end ? (size_t)(cmd_end - cmd) : 0;

#define IS(lit) (cmd_len == sizeof(lit) - 1 && memcmp(cmd, lit, cmd_len) == 0)
  if (IS("qmp_capabilities")) {
    PUT_LIT(&c->out, EMPTY_RET);
    end_reply(&c->out, id, id_len);
  } else if (IS("query-qmp-schema")) {
    buf_put(&c->out, g_schema, g_schema_len);
    end_reply(&c->out, id, id_len);
  } else if (IS("bench-events")) {
    const char *cnt = find_key(line, n, "\"count\"", 7);
    c->ev_left = cnt ? strtoull(cnt, NULL, 10) : 0;
    c->ev_next = 0;
    c->ev_has_id = id != NULL;
    c->ev_id_len = id_len < sizeof c->ev_id ? id_len : sizeof c->ev_id;
    if (id) memcpy(c->ev_id, id, c->ev_id_len);
    if (c->ev_left == 0) {
      PUT_LIT(&c->out, EMPTY_RET);
      end_reply(&c->out, id, id_len);
    }
  } else {
    PUT_LIT(&c->out, STATUS_RET);
    end_reply(&c->out, id, id_len);
  }
#undef IS
}

static size_t fmt_u64(char *dst, unsigned long long v) {
  char tmp[24];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++) dst[i] = tmp[n - 1 - i];
  return n;
}

/* Append pending events until the output buffer is full enough. */
static void produce_events(client_t *c) {
  char line[sizeof EV_HEAD + sizeof EV_TAIL + 24];
  memcpy(line, EV_HEAD, sizeof EV_HEAD - 1);
  while (c->ev_left > 0 && buf_size(&c->out) < OUT_HIGH) {
    /* write a batch without re-checking the high-water mark per event */
    unsigned batch = c->ev_left < 4096 ? (unsigned)c->ev_left : 4096;
    buf_reserve(&c->out, (size_t)batch * sizeof line);
    for (unsigned i = 0; i < batch; i++) {
      size_t k = sizeof EV_HEAD - 1;
      k += fmt_u64(line + k, c->ev_next++);
      memcpy(line + k, EV_TAIL, sizeof EV_TAIL - 1);
      k += sizeof EV_TAIL - 1;
      memcpy(c->out.p + c->out.len, line, k);
      c->out.len += k;
    }
    c->ev_left -= batch;
    if (c->ev_left == 0) {
      PUT_LIT(&c->out, EMPTY_RET);
      end_reply(&c->out, c->ev_has_id ? c->ev_id : NULL, c->ev_id_len);
    }
  }
}

/* The length of the complete message at in.head (it ends where its braces balance), or 0. */
static size_t message_end(client_t *c) {
  if (c->msg_end) return c->msg_end;
  const char *p = c->in.p + c->in.head;
  size_t avail = buf_size(&c->in);
  for (size_t i = c->scanned; i < avail; i++) {
    char ch = p[i];
    if (c->in_str) {
      if (c->esc) c->esc = 0;
      else if (ch == '\\') c->esc = 1;
      else if (ch == '"') c->in_str = 0;
    } else if (ch == '"') {
      c->in_str = 1;
    } else if (ch == '{' || ch == '[') {
      c->depth++;
    } else if ((ch == '}' || ch == ']') && --c->depth <= 0) {
      c->depth = 0;
      c->scanned = 0;
      c->msg_end = i + 1;
      return c->msg_end;
    }
  }
  c->scanned = avail;
  return 0;
}

/* Is there work that produce() could do right now? */
static int can_produce(client_t *c) {
  if (buf_size(&c->out) >= OUT_HIGH) return 0;
  if (c->ev_left > 0) return 1;
  return message_end(c) != 0;
}

/* Answer complete lines and pending events until out is full or no work. */
static void produce(client_t *c) {
  for (;;) {
    if (buf_size(&c->out) >= OUT_HIGH) return;
    if (c->ev_left > 0) {
      produce_events(c);
      continue;
    }
    size_t n = message_end(c);
    if (!n) return;
    handle_line(c, c->in.p + c->in.head, n);
    buf_consume(&c->in, n);
    c->msg_end = 0;
  }
}

/* Write as much as the socket takes. Returns -1 when the peer is gone. */
static int flush_out(client_t *c) {
  while (buf_size(&c->out) > 0) {
    ssize_t w = write(c->fd, c->out.p + c->out.head, buf_size(&c->out));
    if (w > 0) {
      buf_consume(&c->out, (size_t)w);
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return 0;
    } else {
      return -1;
    }
  }
  return 0;
}

static int read_in(client_t *c) {
  buf_reserve(&c->in, READ_CHUNK);
  ssize_t r = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
  if (r > 0) {
    c->in.len += (size_t)r;
  } else if (r == 0) {
    c->eof = 1;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    return -1;
  }
  return 0;
}

static void serve(int fd) {
  client_t c;
  memset(&c, 0, sizeof c);
  c.fd = fd;
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  PUT_LIT(&c.out, GREETING);

  for (;;) {
    produce(&c);
    if (flush_out(&c) < 0) break;
    if (can_produce(&c)) continue; /* the flush made room */
    if (c.eof && buf_size(&c.out) == 0) break;
    struct pollfd p = {.fd = fd, .events = 0, .revents = 0};
    if (!c.eof && c.ev_left == 0 && buf_size(&c.out) < OUT_HIGH) p.events |= POLLIN;
    if (buf_size(&c.out) > 0) p.events |= POLLOUT;
    if (p.events == 0) break;
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p.revents & POLLIN) {
      if (read_in(&c) < 0) break;
    } else if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
      break;
    }
  }
  close(fd);
  free(c.in.p);
  free(c.out.p);
}

static void on_term(int sig) {
  (void)sig;
  if (g_sock_path) unlink(g_sock_path);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s SOCKET_PATH SCHEMA_FILE\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  load_schema(argv[2]);

  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "qmp-server: socket path too long\n");
    return 2;
  }
  strcpy(addr.sun_path, argv[1]);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket");
  unlink(argv[1]);
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
  g_sock_path = argv[1];
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  if (listen(lfd, 128) < 0) die("listen");
  printf("READY\n");
  fflush(stdout);

  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      die("accept");
    }
    serve(fd);
  }
}
