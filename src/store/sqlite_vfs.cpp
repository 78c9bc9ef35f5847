// A SQLite VFS shim that turns a commit's WAL frame writes (two pwrite per page), and a checkpoint's
// contiguous pages, into one write each.
#include "db.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace nubefact::store::detail {
namespace {

// Every file opened through the shim: the real file follows this header in the same allocation.
// On a WAL file and a main database file, contiguous writes are gathered in `buf` and written at
// once when something may need them on disk: a read, sync, truncate, size query, lock change,
// file control, close, a write elsewhere or a full buffer — and, for the WAL, the database file's
// shared-memory barrier and lock calls: SQLite calls the barrier right before it publishes a
// commit in the wal-index, so no connection ever sees a commit whose frames are not written.
// The database file is written by checkpoints (pages in ascending order, then a sync): its
// contiguous pages go out in one write too.
struct shim_file {
    sqlite3_file base;
    sqlite3_file* real;
    shim_file* wal;  // on a main database file: its open WAL file, if any
    shim_file* db;   // on a WAL file: its main database file
    bool is_wal, gather;
    char* buf;
    std::size_t len, cap;
    sqlite3_int64 off;  // file offset of buf[0]
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

// Before a barrier SQLite publishes what was written; it cannot report an error from there, and
// publishing a commit whose frames are not on disk would corrupt the database for every reader.
// Ending the process instead leaves the commit unpublished and unreported (as a crash would).
void flush_or_die(shim_file* f) {
    for (int attempt = 0; attempt < 3; ++attempt)
        if (flush(f, true) == SQLITE_OK) return;
    std::fprintf(stderr,
                 "nubefact store: cannot write the SQLite WAL (disk full?); stopping before a commit "
                 "is published without its pages\n");
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
int x_write(sqlite3_file* pf, const void* p, int amt, sqlite3_int64 off) {
    auto* f = S(pf);
    if (!f->gather) return f->real->pMethods->xWrite(f->real, p, amt, off);
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
    // Anything that may look at the file's bytes sees the gathered writes first.
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
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
    if (int rc = flush(f); rc != SQLITE_OK) return rc;
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
