/* tail_checkpoint.c - the tailer's checkpoint file (tailer_load,
 * tailer_save, tailer_commit in tailer.h): a JSON list of fingerprint, path,
 * position and modification time per file, replaced atomically. */
#include "sources/tail/tail_internal.h"
#include "pipeline/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int corrupt(tailer *t, const char *why)
{
    char aside[PATH_MAX];
    snprintf(aside, sizeof(aside), "%s.corrupt", t->ckpt_path);
    if (rename(t->ckpt_path, aside) < 0)
        slog_error(t->o.log_id, "Checkpoint file %s is corrupt (%s) and could not be set "
                   "aside: %s; reading starts without checkpoints.",
                   t->ckpt_path, why, strerror(errno));
    else
        slog_error(t->o.log_id, "Checkpoint file %s is corrupt (%s); moved to %s, reading "
                   "starts without checkpoints.", t->ckpt_path, why, aside);
    for (size_t i = 0; i < t->n; i++) {
        if (followed(t->e[i]))
            tail_stop_following(t, t->e[i], "its checkpoint was discarded");
        tail_entry_free(t->e[i]);
    }
    t->n = 0;
    t->cursor = 0;
    return 1;
}

int tailer_load(tailer *t, sl_error *err)
{
    if (!t->ckpt_path)
        return 0;
    if (access(t->ckpt_path, F_OK) < 0) {
        if (errno == ENOENT)
            return 0;
        return sl_fail(err, "checkpoint file %s: %s", t->ckpt_path, strerror(errno));
    }
    json_error_t jerr;
    json_t *root = json_load_file(t->ckpt_path, 0, &jerr);
    if (!root)
        return corrupt(t, jerr.text);
    json_t *list = json_is_object(root) ? json_object_get(root, "checkpoints") : NULL;
    if (!json_is_array(list) || json_integer_value(json_object_get(root, "version")) != 1) {
        json_decref(root);
        return corrupt(t, "not a version 1 checkpoint object");
    }
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        const char *fps = json_string_value(json_object_get(c, "fingerprint"));
        const char *path = json_string_value(json_object_get(c, "path"));
        json_t *pos = json_object_get(c, "position");
        json_t *mod = json_object_get(c, "modified");
        char *end = NULL;
        uint64_t fp = fps ? strtoull(fps, &end, 16) : 0;
        if (!fps || !*fps || *end || !path || !json_is_integer(pos) ||
            json_integer_value(pos) < 0 || !json_is_integer(mod)) {
            json_decref(root);
            return corrupt(t, "a checkpoint lacks fingerprint, path, position or modified");
        }
        if (tail_find_fp(t, fp))
            continue;
        entry *e = tail_entry_add(t, fp, path);
        if (!e) {
            json_decref(root);
            return sl_fail(err, "out of memory loading checkpoints");
        }
        e->position = e->offset = (uint64_t)json_integer_value(pos);
        e->modified = json_integer_value(mod);
    }
    json_decref(root);
    return 0;
}

static int fsync_dir(const char *file)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", file);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static json_t *checkpoints_json(const tailer *t)
{
    json_t *list = json_array();
    json_t *root = json_pack("{s:i, s:o}", "version", 1, "checkpoints", list);
    if (!root)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const entry *e = t->e[i];
        char fp[17];
        snprintf(fp, sizeof(fp), "%016" PRIx64, e->pub.fp);
        json_t *c = json_pack("{s:s, s:s, s:I, s:I}", "fingerprint", fp, "path", e->pub.path,
                              "position", (json_int_t)e->position,
                              "modified", (json_int_t)e->modified);
        if (!c || json_array_append_new(list, c) < 0) {
            json_decref(root);
            return NULL;
        }
    }
    return root;
}

int tailer_save(tailer *t, sl_error *err)
{
    if (!t->ckpt_path || !t->dirty)
        return 0;
    json_t *root = checkpoints_json(t);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return sl_fail(err, "out of memory writing checkpoints");
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", t->ckpt_path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(text);
        return sl_fail(err, "writing checkpoints to %s: %s", tmp, strerror(errno));
    }
    int rc = sl_write_all(fd, text, strlen(text));
    free(text);
    if (rc == 0)
        rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc == 0 && rename(tmp, t->ckpt_path) < 0) {
        rc = -1;
        saved = errno;
    }
    if (rc < 0) {
        unlink(tmp);
        return sl_fail(err, "writing checkpoints to %s: %s", t->ckpt_path, strerror(saved));
    }
    if (fsync_dir(t->ckpt_path) < 0)
        return sl_fail(err, "syncing the directory of %s: %s", t->ckpt_path, strerror(errno));
    t->dirty = false;
    return 1;
}

void tailer_commit(tailer *t, uint64_t fp, uint64_t gen, uint64_t position)
{
    entry *e = tail_find_fp(t, fp);
    if (!e || e->pub.gen != gen || e->position == position)
        return;
    e->position = position;
    t->dirty = true;
}
