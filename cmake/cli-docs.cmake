# Man pages (share/man/man1/nubefact*.1.gz) and the bash completion, generated at build time from the
# --help of every command by scripts/cli-docs.py (python3, standard library only).
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(NUBEFACT_CLI_DOCS ${PROJECT_BINARY_DIR}/cli-docs)
add_custom_command(
  OUTPUT ${NUBEFACT_CLI_DOCS}/stamp
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/scripts/cli-docs.py $<TARGET_FILE:nubefact_cli>
          ${NUBEFACT_CLI_DOCS}
  COMMAND ${CMAKE_COMMAND} -E touch ${NUBEFACT_CLI_DOCS}/stamp
  DEPENDS nubefact_cli ${PROJECT_SOURCE_DIR}/scripts/cli-docs.py
  COMMENT "Man pages and bash completion from nubefact --help")
add_custom_target(nubefact_cli_docs ALL DEPENDS ${NUBEFACT_CLI_DOCS}/stamp)
add_dependencies(nubefact_install_files nubefact_cli_docs)

install(DIRECTORY ${NUBEFACT_CLI_DOCS}/man1 DESTINATION share/man)
install(FILES ${NUBEFACT_CLI_DOCS}/nubefact.bash DESTINATION share/bash-completion/completions RENAME nubefact)
