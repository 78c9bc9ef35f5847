# The Debian package (`cpack -G DEB` in a build directory): everything `cmake --install` copies, under
# /usr, plus the gateway's systemd unit and system user. scripts/deb-test.sh builds, installs and
# removes it.
install(FILES ${PROJECT_SOURCE_DIR}/packaging/nubefact.service DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/nubefact.sysusers DESTINATION lib/sysusers.d RENAME nubefact.conf)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nubefact)
set(CPACK_PACKAGE_VENDOR nubefact)
set(CPACK_PACKAGE_CONTACT "nubefact maintainers <nubefact@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Nubefact e-invoicing: CLI, emulator, gateway and C++20 library")
set(CPACK_PACKAGE_DESCRIPTION
    "Validates, completes and sends Peruvian electronic invoices (facturas, boletas, notas, anulaciones,
guias) through the Nubefact JSON API, exactly once, with a local emulator of Nubefact. Contains the
nubefact command with its man pages and bash completion, a systemd unit for the gateway
(nubefact serve), and libnubefact: static libraries, headers, CMake package and pkg-config file.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # nubefact_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
# Depends: the shared libraries the binary links, found by dpkg-shlibdeps (dpkg-dev).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# What find_package(nubefact) / pkg-config nubefact need to build against the library.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "libboost1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, libboost-system1.81-dev, libssl-dev,
libsqlite3-dev, libpq-dev, libspdlog-dev, libfmt-dev, libtomlplusplus-dev, pkg-config")
string(REPLACE "\n" " " CPACK_DEBIAN_PACKAGE_RECOMMENDS "${CPACK_DEBIAN_PACKAGE_RECOMMENDS}")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
                                       ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
                                       ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
