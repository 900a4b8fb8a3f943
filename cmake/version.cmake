# Writes the generated version header with the git revision of the source tree as it is now. Run at configure
# time and, through the v3sim_version target, at every build, so outputs and the kernel-cache fingerprint name
# the revision that was built, not the one CMake last configured. configure_file leaves the header untouched
# when nothing changed, so nothing recompiles then.
#   cmake -DSOURCE_DIR=... -DOUTPUT=... -DPROJECT_VERSION=... [-DGIT_EXECUTABLE=...] -P cmake/version.cmake
set(V3SIM_GIT_REVISION "unknown")
if(GIT_EXECUTABLE AND EXISTS "${SOURCE_DIR}/.git")
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --abbrev=12
                  WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE revision RESULT_VARIABLE rc
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(rc EQUAL 0 AND revision)
    set(V3SIM_GIT_REVISION "${revision}")
  endif()
endif()
configure_file(${SOURCE_DIR}/core/version.h.in ${OUTPUT} @ONLY)
