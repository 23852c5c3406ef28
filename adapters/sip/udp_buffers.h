// Larger kernel buffers for the SIP UDP socket. A burst of calls brings a
// burst of responses (100/180/200 per INVITE); with the default ~200 KB
// receive buffer the kernel drops them while the loop is busy, and the
// resulting retransmissions confuse simple far ends. libre 1.1.0 does not
// expose the socket of a SIP transport, so we recognise it as the UDP
// socket(s) that appeared while the transport was added.
#pragma once

#include <set>

namespace voipd::adapters::sip {

// The process's open file descriptors.
std::set<int> OpenFds();

// Sets SO_RCVBUF and SO_SNDBUF to `bytes` (the kernel caps them at
// net.core.rmem_max / wmem_max) on every UDP socket not in `before`.
// Returns how many sockets were changed.
int EnlargeNewUdpBuffers(const std::set<int>& before, int bytes);

}  // namespace voipd::adapters::sip
