# Man pages (share/man/man1/nubefact*.1.gz) and the bash completion, generated at build time from the
# --help of every command by scripts/cli-docs.py (python3, standard library only). It runs the binary
# just built: NUBEFACT_CLI_DOCS=OFF skips it where that binary cannot run (cross builds).
option(NUBEFACT_CLI_DOCS "Generate the man pages and the bash completion from --help" ON)
if(NOT NUBEFACT_CLI_DOCS)
  return()
endif()
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(NUBEFACT_CLI_DOCS_DIR ${PROJECT_BINARY_DIR}/cli-docs)
add_custom_command(
  OUTPUT ${NUBEFACT_CLI_DOCS_DIR}/stamp
  # Sanitizer presets build this too: a leak report at exit must not fail the build.
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 ${Python3_EXECUTABLE}
          ${PROJECT_SOURCE_DIR}/scripts/cli-docs.py $<TARGET_FILE:nubefact_cli> ${NUBEFACT_CLI_DOCS_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${NUBEFACT_CLI_DOCS_DIR}/stamp
  DEPENDS nubefact_cli ${PROJECT_SOURCE_DIR}/scripts/cli-docs.py
  COMMENT "Man pages and bash completion from nubefact --help")
add_custom_target(nubefact_cli_docs ALL DEPENDS ${NUBEFACT_CLI_DOCS_DIR}/stamp)
add_dependencies(nubefact_install_files nubefact_cli_docs)

install(DIRECTORY ${NUBEFACT_CLI_DOCS_DIR}/man1 DESTINATION share/man)
install(FILES ${NUBEFACT_CLI_DOCS_DIR}/nubefact.bash DESTINATION share/bash-completion/completions
        RENAME nubefact)
