# Project-wide compile options: warnings on (zero tolerated), optional sanitizers.
add_library(v3sim_options INTERFACE)
target_compile_options(v3sim_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wimplicit-fallthrough>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${V3SIM_WERROR}>>:-Werror>)
if(V3SIM_SANITIZE)
  target_compile_options(v3sim_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(v3sim_options INTERFACE -fsanitize=address,undefined)
endif()
