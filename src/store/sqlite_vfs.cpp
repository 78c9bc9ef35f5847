// A SQLite VFS shim that turns a commit's WAL frame writes (two pwrite per page), and a checkpoint's
// contiguous pages, into one write each.
#include "db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>

namespace nubefact::store::detail {
namespace {

// Every file opened through the shim: the real file follows this header in the same allocation.
// On a WAL file and a main database file, contiguous writes are gathered in `buf` and written at
// once when something may need them on disk: a read, sync, truncate, size query, lock change,
// file control, close, a write elsewhere or a full buffer — and, for the WAL, as soon as a commit
// frame is complete: SQLite writes each frame as two xWrite calls (24-byte header, then the page)
// and the last frame of a commit carries a non-zero "database size after commit" in its header,
// so the xWrite of that page writes the whole commit and can report a failure (full disk): the
// commit then fails and rolls back like any failed write, before anything is published.
// The database file's shared-memory barrier and lock calls flush again as a last resort (SQLite
// calls the barrier right before it publishes a commit in the wal-index, so no connection ever
// sees a commit whose frames are not written).
// The database file is written by checkpoints (pages in ascending order, then a sync): its
// contiguous pages go out in one write too, and the space they need is claimed first (reserve).
struct shim_file {
    sqlite3_file base;
    sqlite3_file* real;
    shim_file* wal;  // on a main database file: its open WAL file, if any
    shim_file* db;   // on a WAL file: its main database file
    bool is_wal, gather;
    char* buf;
    std::size_t len, cap;
    sqlite3_int64 off;  // file offset of buf[0]
    // On a WAL file: the last write was a frame header with a non-zero "database size after commit"
    // (a commit frame's header), written at header_off.
    bool commit_header;
    sqlite3_int64 header_off;
    // On a database file: the error of a failed size reservation (see reserve), returned by the
    // next write.
    int reserve_rc;
};

constexpr std::size_t max_buffer = 4u << 20;  // bigger commits are written in 4 MiB pieces

sqlite3_vfs* base_vfs = nullptr;
sqlite3_vfs shim_vfs;
sqlite3_io_methods shim_methods;

shim_file* S(sqlite3_file* f) {
    return reinterpret_cast<shim_file*>(f);
}

// The unix VFS writes at most 128 KiB - 1 per call (it masks larger sizes): whole pages up to that.
constexpr std::size_t max_write = 31 * 4096;

// On failure the gathered bytes are dropped: the SQLite operation that needed them fails and its
// transaction rolls back, and frames kept past that could land after the valid WAL and be replayed
// after a crash. Only flush_or_die keeps them, for its retries.
int flush(shim_file* f, bool keep_on_failure = false) {
    std::size_t done = 0;
    while (done < f->len) {
        const std::size_t n = std::min(max_write, f->len - done);
        int rc = f->real->pMethods->xWrite(f->real, f->buf + done, static_cast<int>(n),
                                           f->off + static_cast<sqlite3_int64>(done));
        if (rc != SQLITE_OK) {
            if (!keep_on_failure) {
                f->len = 0;
                return rc;
            }
            std::memmove(f->buf, f->buf + done, f->len - done);
            f->len -= done;
            f->off += static_cast<sqlite3_int64>(done);
            return rc;
        }
        done += n;
    }
    f->len = 0;
    return SQLITE_OK;
}

// For the calls that cannot report an error although what follows them may publish the gathered
// bytes: the barrier (a commit's wal-index header) and wal-index lock changes (a checkpoint's
// nBackfill). A commit's frames are written when its commit frame completes (x_write), a
// checkpoint's pages by its truncate or sync, and the space a checkpoint needs is claimed before
// it copies anything (reserve), all where a failure is reported. What can still get here is the
// last contiguous run of a partial checkpoint (no truncate, no sync after it) failing in space
// already claimed: an I/O error, or a copy-on-write file system out of space. Its progress is
// already recorded, and a WAL restart would then lose those pages: ending the process is the
// last resort (the next opener, if no other process has the database open, rebuilds the
// wal-index from the WAL and copies them again).
void flush_or_die(shim_file* f) {
    for (int attempt = 0; attempt < 3; ++attempt)
        if (flush(f, true) == SQLITE_OK) return;
    std::fprintf(stderr,
                 "nubefact store: cannot write the SQLite database or WAL (disk full? I/O error?); "
                 "stopping before pages that are not on disk are published\n");
    std::abort();
}

int x_close(sqlite3_file* pf) {
    auto* f = S(pf);
    int rc = flush(f);
    if (f->is_wal && f->db && f->db->wal == f) f->db->wal = nullptr;
    if (!f->is_wal && f->wal) f->wal->db = nullptr;
    std::free(f->buf);
    f->buf = nullptr;
    int rc2 = f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : rc2;
}
int x_read(sqlite3_file* pf, void* p, int amt, sqlite3_int64 off) {
    auto* f = S(pf);
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xRead(f->real, p, amt, off);
}
// Appends one write to the gathered bytes (flushing them first when it does not follow them).
int gather_write(shim_file* f, const void* p, int amt, sqlite3_int64 off) {
    const auto n = static_cast<std::size_t>(amt);
    if (f->len > 0 && (off != f->off + static_cast<sqlite3_int64>(f->len) || f->len + n > max_buffer)) {
        if (int rc = flush(f); rc != SQLITE_OK) return rc;
    }
    if (n > max_buffer) return f->real->pMethods->xWrite(f->real, p, amt, off);
    if (f->len + n > f->cap) {
        std::size_t cap = f->cap ? f->cap : 64u << 10;
        while (cap < f->len + n) cap *= 2;
        auto* nb = static_cast<char*>(std::realloc(f->buf, cap));
        if (!nb) {
            if (int rc = flush(f); rc != SQLITE_OK) return rc;
            return f->real->pMethods->xWrite(f->real, p, amt, off);
        }
        f->buf = nb;
        f->cap = cap;
    }
    if (f->len == 0) f->off = off;
    std::memcpy(f->buf + f->len, p, n);
    f->len += n;
    return SQLITE_OK;
}

// WAL frame header (SQLite file format): 24 bytes; bytes 4..7 hold, big-endian, the database size
// in pages after the commit for a commit frame, 0 for any other frame.
constexpr int frame_header_size = 24;

bool is_commit_header(const void* p) {
    const auto* b = static_cast<const unsigned char*>(p);
    return (b[4] | b[5] | b[6] | b[7]) != 0;
}

int x_write(sqlite3_file* pf, const void* p, int amt, sqlite3_int64 off) {
    auto* f = S(pf);
    if (!f->gather) return f->real->pMethods->xWrite(f->real, p, amt, off);
    if (!f->is_wal) {
        if (int rc = std::exchange(f->reserve_rc, SQLITE_OK); rc != SQLITE_OK) return rc;
        return gather_write(f, p, amt, off);
    }
    int rc = gather_write(f, p, amt, off);
    const bool completes_commit = f->commit_header && off == f->header_off + frame_header_size;
    f->commit_header = rc == SQLITE_OK && amt == frame_header_size && is_commit_header(p);
    f->header_off = off;
    if (rc != SQLITE_OK || !completes_commit) return rc;
    // The page of a commit frame: the commit's frames go out now, and a failure fails the commit
    // (SQLite rolls it back), so its bytes are dropped.
    return flush(f);
}
int x_truncate(sqlite3_file* pf, sqlite3_int64 size) {
    auto* f = S(pf);
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xTruncate(f->real, size);
}
int x_sync(sqlite3_file* pf, int flags) {
    auto* f = S(pf);
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xSync(f->real, flags);
}
int x_file_size(sqlite3_file* pf, sqlite3_int64* size) {
    auto* f = S(pf);
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xFileSize(f->real, size);
}
int x_lock(sqlite3_file* pf, int l) {
    if (int rc = flush(S(pf)); rc != SQLITE_OK) return rc;
    return S(pf)->real->pMethods->xLock(S(pf)->real, l);
}
int x_unlock(sqlite3_file* pf, int l) {
    if (int rc = flush(S(pf)); rc != SQLITE_OK) return rc;
    return S(pf)->real->pMethods->xUnlock(S(pf)->real, l);
}
int x_check_reserved(sqlite3_file* pf, int* out) {
    return S(pf)->real->pMethods->xCheckReservedLock(S(pf)->real, out);
}
// A checkpoint writes its pages in ascending order, the database's new pages last, and its last
// contiguous run reaches the disk only at SQLITE_FCNTL_CKPT_DONE, whose result SQLite ignores; a
// partial checkpoint (an older reader still needs WAL frames) then records its progress without
// a truncate or sync that could report a failure. Before the copy SQLite hints the size the
// database will have: writing zeros up to it here claims the space, so a full disk (or a file
// size limit) fails the reservation, and the checkpoint's first write reports that, before any
// page is copied. The zeros are written only past the end of the file and are overwritten by the
// checkpoint's pages, mostly before they leave the page cache.
int reserve(shim_file* f, sqlite3_int64 size) {
    static const char zeros[max_write] = {};
    sqlite3_int64 now = 0;
    if (int rc = f->real->pMethods->xFileSize(f->real, &now); rc != SQLITE_OK) return rc;
    for (sqlite3_int64 off = now; off < size;) {
        const auto n = static_cast<int>(std::min<sqlite3_int64>(max_write, size - off));
        if (int rc = f->real->pMethods->xWrite(f->real, zeros, n, off); rc != SQLITE_OK) {
            f->real->pMethods->xTruncate(f->real, now);
            return rc;
        }
        off += n;
    }
    return SQLITE_OK;
}

int x_file_control(sqlite3_file* pf, int op, void* arg) {
    auto* f = S(pf);
    if (op == SQLITE_FCNTL_VFSNAME) {
        int rc = f->real->pMethods->xFileControl(f->real, op, arg);
        if (rc == SQLITE_OK && arg) {
            char* inner = *static_cast<char**>(arg);
            *static_cast<char**>(arg) = sqlite3_mprintf("nubefact/%z", inner);
        }
        return rc;
    }
    // Anything that may look at the file's bytes sees the gathered writes first. SQLite ignores the
    // result of some file controls (SQLITE_FCNTL_CKPT_DONE after a checkpoint's last page, size
    // hints): on failure the bytes are kept for the next call that reports (a checkpoint's truncate
    // or sync, which then fails the checkpoint) instead of being dropped unreported.
    if (int rc = flush(f, true); rc != SQLITE_OK) return rc;
    if (f->gather && !f->is_wal) {
        if (op == SQLITE_FCNTL_SIZE_HINT && arg) {
            f->reserve_rc = reserve(f, *static_cast<sqlite3_int64*>(arg));
        } else if (op == SQLITE_FCNTL_CKPT_DONE) {
            f->reserve_rc = SQLITE_OK;  // a checkpoint that had nothing to write
        }
    }
    return f->real->pMethods->xFileControl(f->real, op, arg);
}
int x_sector_size(sqlite3_file* pf) {
    return S(pf)->real->pMethods->xSectorSize(S(pf)->real);
}
int x_device_characteristics(sqlite3_file* pf) {
    return S(pf)->real->pMethods->xDeviceCharacteristics(S(pf)->real);
}
int x_shm_map(sqlite3_file* pf, int pg, int pgsz, int extend, void volatile** pp) {
    return S(pf)->real->pMethods->xShmMap(S(pf)->real, pg, pgsz, extend, pp);
}
int x_shm_lock(sqlite3_file* pf, int offset, int n, int flags) {
    auto* f = S(pf);
    // Any wal-index lock change may let another connection look: everything gathered goes first.
    // Database pages still gathered here belong to a checkpoint that has already published its
    // progress (nBackfill), and SQLite ignores the result of an unlock: last resort.
    if (f->len > 0) flush_or_die(f);
    if (f->wal) {
        if (int rc = flush(f->wal); rc != SQLITE_OK) return rc;
    }
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* pf) {
    auto* f = S(pf);
    // SQLite publishes a commit's new wal-index header right after this barrier.
    flush_or_die(f);
    if (f->wal) flush_or_die(f->wal);
    f->real->pMethods->xShmBarrier(f->real);
}
int x_shm_unmap(sqlite3_file* pf, int del) {
    return S(pf)->real->pMethods->xShmUnmap(S(pf)->real, del);
}
int x_fetch(sqlite3_file* pf, sqlite3_int64 off, int amt, void** pp) {
    auto* f = S(pf);
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
    return f->real->pMethods->xFetch(f->real, off, amt, pp);
}
int x_unfetch(sqlite3_file* pf, sqlite3_int64 off, void* p) {
    return S(pf)->real->pMethods->xUnfetch(S(pf)->real, off, p);
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* pf, int flags, int* out_flags) {
    auto* f = S(pf);
    std::memset(f, 0, sizeof(shim_file));
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(shim_file));
    int rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || !f->real->pMethods) {
        // SQLite calls xClose exactly when pMethods is set: ours then closes the real file too.
        f->base.pMethods = f->real->pMethods ? &shim_methods : nullptr;
        return rc;
    }
    f->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    f->gather = f->is_wal || (flags & SQLITE_OPEN_MAIN_DB) != 0;
    if (f->is_wal && name) {
        if (sqlite3_file* main = sqlite3_database_file_object(name);
            main && main->pMethods == &shim_methods) {
            f->db = S(main);
            f->db->wal = f;
        }
    }
    f->base.pMethods = &shim_methods;
    return SQLITE_OK;
}

// The shim's methods are version 3 when the real ones are (they are on unix).
void init_once() {
    base_vfs = sqlite3_vfs_find(nullptr);
    if (!base_vfs) return;
    shim_methods = sqlite3_io_methods{3,
                                      x_close,
                                      x_read,
                                      x_write,
                                      x_truncate,
                                      x_sync,
                                      x_file_size,
                                      x_lock,
                                      x_unlock,
                                      x_check_reserved,
                                      x_file_control,
                                      x_sector_size,
                                      x_device_characteristics,
                                      x_shm_map,
                                      x_shm_lock,
                                      x_shm_barrier,
                                      x_shm_unmap,
                                      x_fetch,
                                      x_unfetch};
    shim_vfs = *base_vfs;
    shim_vfs.szOsFile = static_cast<int>(sizeof(shim_file)) + base_vfs->szOsFile;
    shim_vfs.zName = "nubefact";
    shim_vfs.pNext = nullptr;
    shim_vfs.pAppData = nullptr;
    shim_vfs.xOpen = x_open;
    // Everything else is the base VFS's, called with the base VFS.
    shim_vfs.xDelete = [](sqlite3_vfs*, const char* n, int sync) {
        return base_vfs->xDelete(base_vfs, n, sync);
    };
    shim_vfs.xAccess = [](sqlite3_vfs*, const char* n, int flags, int* out) {
        return base_vfs->xAccess(base_vfs, n, flags, out);
    };
    shim_vfs.xFullPathname = [](sqlite3_vfs*, const char* n, int size, char* out) {
        return base_vfs->xFullPathname(base_vfs, n, size, out);
    };
    shim_vfs.xDlOpen = [](sqlite3_vfs*, const char* n) { return base_vfs->xDlOpen(base_vfs, n); };
    shim_vfs.xDlError = [](sqlite3_vfs*, int n, char* out) { base_vfs->xDlError(base_vfs, n, out); };
    shim_vfs.xDlSym = [](sqlite3_vfs*, void* h, const char* sym) {
        return base_vfs->xDlSym(base_vfs, h, sym);
    };
    shim_vfs.xDlClose = [](sqlite3_vfs*, void* h) { base_vfs->xDlClose(base_vfs, h); };
    shim_vfs.xRandomness = [](sqlite3_vfs*, int n, char* out) {
        return base_vfs->xRandomness(base_vfs, n, out);
    };
    shim_vfs.xSleep = [](sqlite3_vfs*, int us) { return base_vfs->xSleep(base_vfs, us); };
    shim_vfs.xCurrentTime = [](sqlite3_vfs*, double* t) { return base_vfs->xCurrentTime(base_vfs, t); };
    shim_vfs.xGetLastError = [](sqlite3_vfs*, int n, char* out) {
        return base_vfs->xGetLastError(base_vfs, n, out);
    };
    if (base_vfs->iVersion >= 2 && base_vfs->xCurrentTimeInt64)
        shim_vfs.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* t) {
            return base_vfs->xCurrentTimeInt64(base_vfs, t);
        };
    if (shim_vfs.iVersion > 2) shim_vfs.iVersion = 2;  // no system-call overrides through the shim
    if (sqlite3_vfs_register(&shim_vfs, 0) != SQLITE_OK) base_vfs = nullptr;
}

}  // namespace

const char* gathering_vfs() {
    static std::once_flag once;
    std::call_once(once, init_once);
    return base_vfs ? shim_vfs.zName : nullptr;
}

}  // namespace nubefact::store::detail
