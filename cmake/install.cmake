# `cmake --install`: the nubefact binary, libnubefact (static libraries), its headers, a CMake package
# (find_package(nubefact): nubefact::nubefact and the parts) and nubefact.pc (pkg-config nubefact).
include(CMakePackageConfigHelpers)

# lib/, never lib/<multiarch>: find_package and pkg-config search both, and the .deb uses /usr/lib.
set(NUBEFACT_LIBDIR lib)
set(NUBEFACT_CMAKEDIR ${NUBEFACT_LIBDIR}/cmake/nubefact)

install(TARGETS nubefact ${NUBEFACT_LIBRARY_TARGETS} nubefact_emulator
        EXPORT nubefactTargets
        ARCHIVE DESTINATION ${NUBEFACT_LIBDIR})
install(TARGETS nubefact_cli RUNTIME DESTINATION bin)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/nubefact ${PROJECT_BINARY_DIR}/include/nubefact
        DESTINATION include)

install(EXPORT nubefactTargets NAMESPACE nubefact:: DESTINATION ${NUBEFACT_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nubefactConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/nubefactConfig.cmake INSTALL_DESTINATION ${NUBEFACT_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same MAJOR.MINOR is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/nubefactConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/nubefactConfig.cmake ${PROJECT_BINARY_DIR}/nubefactConfigVersion.cmake
        DESTINATION ${NUBEFACT_CMAKEDIR})

# nubefact.pc lists every library of the umbrella target in link order (they are static).
list(TRANSFORM NUBEFACT_LIBRARY_TARGETS PREPEND -l OUTPUT_VARIABLE NUBEFACT_PC_LIBS)
list(JOIN NUBEFACT_PC_LIBS " " NUBEFACT_PC_LIBS)
configure_file(${PROJECT_SOURCE_DIR}/cmake/nubefact.pc.in ${PROJECT_BINARY_DIR}/nubefact.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/nubefact.pc DESTINATION ${NUBEFACT_LIBDIR}/pkgconfig)

# Everything `cmake --install` copies (scripts/package-test.sh and deb-test.sh build only this).
add_custom_target(nubefact_install_files)
add_dependencies(nubefact_install_files nubefact_cli ${NUBEFACT_LIBRARY_TARGETS} nubefact_emulator)

# Man pages and bash completion from --help.
include(${CMAKE_CURRENT_LIST_DIR}/cli-docs.cmake)

# The Debian package (CPack), unless nubefact is a subdirectory of another project (its packaging).
if(PROJECT_IS_TOP_LEVEL)
  include(${CMAKE_CURRENT_LIST_DIR}/deb.cmake)
endif()
