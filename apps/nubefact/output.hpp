// Files the CLI writes: never one of its own inputs, and never left half-written.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nubefact::cli {

// When `output` is the same file as an input: the input's name (for "it is also an input (NAME)").
// Compared by device and inode, so a symlink, a hard link or another spelling of the path is caught,
// and so are the files an input directory holds (*.json, *.jsonl, *.csv) and standard input ("-")
// redirected from the file. nullopt when there is no clash, or `output` does not exist yet. Only
// reads metadata: call it before anything is opened for writing.
std::optional<std::string> output_is_input(const std::string& output, const std::vector<std::string>& inputs);

// An output file replaced atomically: the text goes to a temporary file in the target's directory
// (so the rename cannot cross file systems), which commit() renames over the target; on failure,
// discard() or destruction without commit() it is removed. The target holds either its old content
// or all of the new. A symlink target is followed: the file it points to is replaced, the link stays.
// Every write, flush, close and the rename are checked; the first failure is kept (ok() false,
// error() "PATH: reason (while ...)") and later writes are dropped.
// write() and ok()/error() are thread-safe: several writers may append whole lines concurrently.
class atomic_file {
  public:
    // Creates the temporary file now, so a directory that is missing or not writable is reported
    // before any input is read.
    explicit atomic_file(std::string path);
    ~atomic_file();
    atomic_file(const atomic_file&) = delete;
    atomic_file& operator=(const atomic_file&) = delete;

    // Appends `text` (buffered; written out in 64 KiB blocks). Dropped after a failure.
    void write(std::string_view text);
    // Writes out the buffer, fsyncs the file (and its directory) when `sync`, closes it and renames
    // it over the target. True when the target now holds everything written; false otherwise (the
    // target untouched). Once only: later calls, and a call after discard(), return the same answer
    // (false after discard()); write() after it is dropped.
    bool commit(bool sync = false);
    // Removes the temporary file; the target stays as it was.
    void discard();

    bool ok() const;
    std::string error() const;
    // The target as given.
    const std::string& path() const { return path_; }

  private:
    void fail_locked(const char* what, int err);
    bool flush_locked();
    void remove_locked();

    std::string path_, target_, tmp_;
    int fd_ = -1;
    std::string buf_;
    std::string error_;
    bool done_ = false, committed_ = false;
    mutable std::mutex m_;
};

}  // namespace nubefact::cli
