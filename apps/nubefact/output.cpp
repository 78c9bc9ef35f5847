// Safe outputs: refuse to overwrite an input, replace files atomically, check every write.
#include "output.hpp"

#include "input.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace nubefact::cli {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t block = 64 * 1024;

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}
}  // namespace

std::optional<std::string> output_is_input(const std::string& output,
                                           const std::vector<std::string>& inputs) {
    struct stat out {};
    if (::stat(output.c_str(), &out) != 0) return std::nullopt;  // not there yet: it cannot be read
    for (const auto& in : inputs) {
        struct stat st {};
        if (in == "-") {
            if (::fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode) && same_file(st, out))
                return std::string("standard input");
            continue;
        }
        if (::stat(in.c_str(), &st) != 0) continue;  // the reader reports it
        if (S_ISDIR(st.st_mode)) {
            std::error_code ec;
            for (const auto& f : directory_inputs(in, true, ec)) {
                struct stat fst {};
                if (::stat(f.c_str(), &fst) == 0 && same_file(fst, out)) return f;
            }
        } else if (same_file(st, out)) {
            return in;
        }
    }
    return std::nullopt;
}

atomic_file::atomic_file(std::string path) : path_(std::move(path)), target_(path_) {
    std::lock_guard lock(m_);
    std::error_code ec;
    // Replace what a symlink points to, not the link.
    if (fs::is_symlink(target_, ec)) {
        auto real = fs::canonical(target_, ec);
        if (!ec) target_ = real.string();
    }
    struct stat st {};
    const bool exists = ::stat(target_.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        fail_locked("opening it for writing", EISDIR);
        return;
    }
    const fs::path t(target_);
    const fs::path dir = t.has_parent_path() ? t.parent_path() : fs::path(".");
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100 && fd_ < 0; ++attempt) {
        tmp_ = (dir / ("." + t.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                       std::to_string(counter++)))
                   .string();
        // 0666 less the umask, like any new file; an existing target keeps its permissions below.
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ < 0 && errno != EEXIST) break;
    }
    if (fd_ < 0) {
        const int err = errno;
        tmp_.clear();
        fail_locked("creating a temporary file in its directory", err);
        return;
    }
    if (exists && ::fchmod(fd_, st.st_mode & 07777) != 0) fail_locked("copying its permissions", errno);
}

atomic_file::~atomic_file() {
    std::lock_guard lock(m_);
    if (!done_) remove_locked();
}

void atomic_file::fail_locked(const char* what, int err) {
    if (!error_.empty()) return;
    error_ = path_ + ": " + std::generic_category().message(err) + " (while " + what + ")";
}

void atomic_file::remove_locked() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
    tmp_.clear();
    buf_.clear();
}

bool atomic_file::flush_locked() {
    std::size_t off = 0;
    while (off < buf_.size()) {
        const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_locked("writing", errno);
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    buf_.clear();
    return true;
}

void atomic_file::write(std::string_view text) {
    std::lock_guard lock(m_);
    if (done_ || !error_.empty() || fd_ < 0) return;
    buf_.append(text);
    if (buf_.size() >= block) flush_locked();
}

bool atomic_file::commit(bool sync) {
    std::lock_guard lock(m_);
    if (done_) return committed_;
    done_ = true;
    if (error_.empty() && fd_ >= 0 && flush_locked()) {
        if (sync && ::fsync(fd_) != 0) fail_locked("syncing", errno);
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) fail_locked("closing", errno);  // NFS reports write errors here
        if (error_.empty() && ::rename(tmp_.c_str(), target_.c_str()) != 0)
            fail_locked("renaming the temporary file over it", errno);
        if (error_.empty()) {
            tmp_.clear();
            committed_ = true;
            if (sync) {
                // The rename itself is durable once the directory is synced.
                const fs::path t(target_);
                const auto dir = t.has_parent_path() ? t.parent_path().string() : std::string(".");
                const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0) {
                    ::fsync(dfd);
                    ::close(dfd);
                }
            }
            return true;
        }
    }
    remove_locked();
    return false;
}

void atomic_file::discard() {
    std::lock_guard lock(m_);
    done_ = true;
    remove_locked();
}

bool atomic_file::ok() const {
    std::lock_guard lock(m_);
    return error_.empty();
}

std::string atomic_file::error() const {
    std::lock_guard lock(m_);
    return error_;
}

}  // namespace nubefact::cli
