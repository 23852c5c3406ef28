// libre's digest credential callback (sip_auth_h) for one system. Its
// argument is the system's SipContext, not a call: libre may ask again for a
// transaction that outlives the call object (a challenged BYE after the call
// was released), and the context lives as long as the SIP stack itself.
#pragma once

namespace voipd::adapters::sip {

// arg: const SipContext*. EAUTH when no username/password is configured.
int ProvideCredentials(char** user, char** password, const char* realm, void* arg);

}  // namespace voipd::adapters::sip
