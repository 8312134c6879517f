import sys, re, collections
# The shares of a `perf script` dump by category (benches/README.md, 2026-12-07): python3 shares.py dump.txt
# Each sample goes to the first category whose pattern matches anywhere in its stack.
exec(open(__import__('os').path.join(__import__('os').path.dirname(__file__),'top.py')).read().split('S=list')[0])
S=list(samples(sys.argv[1])); n=len(S)
CATS=[
 ("audit writer thread: hash chain, Merkle, CRC, write+fsync", lambda t,s: t.startswith('zvp-audit')),
 ("load generator (client TLS + hyper client)", lambda t,s: t.startswith('load') or re.search(r'tokio_rustls::client|hyper::proto::h1::role::Client|hyper_util::client|hyper::client|portal_load::(get|connect|saturate|logins)|ClientConnection|rustls::client::', s)),
 ("UZI verifier (client-cert validation)", lambda t,s: re.search(r'zvp_auth::uzi|ClientCertVerifier|verify_client_cert|webpki::', s)),
 ("audit record on request path (serialize, encode, submit)", lambda t,s: re.search(r'AuditLog>::append|FileLog::submit|zvp_audit::log::encode|zvp_audit::log::Encoded|FileLog as zvp_audit::log::AuditLog', s)),
 ("synthetic EPD (admitted, discharged_since, letters)", lambda t,s: re.search(r'SyntheticEpd|zvp_epd::synthetic', s)),
 ("rendering (patient_list::table, layout, maud, dutch_time)", lambda t,s: re.search(r'patient_list::table|zvp_web::layout|maud::|render', s)),
 ("directory (accounts / gp names)", lambda t,s: re.search(r'DirectoryStore|MemoryDirectory|gp_names', s)),
 ("session store", lambda t,s: re.search(r'SessionStore|MemorySessions|zvp_web::session', s)),
 ("other portal handler work (list building, policy, middleware in zvp_web)", lambda t,s: re.search(r'zvp_web::|zvp_policy|zvp_core', s)),
 ("server TLS (rustls/aws-lc handshake + record layer)", lambda t,s: re.search(r'rustls|aws_lc', s)),
 ("hyper server (HTTP/1 parse, write)", lambda t,s: re.search(r'hyper', s)),
 ("rest (tokio scheduler, kernel, allocator outside the above)", lambda t,s: True),
]
c=collections.Counter()
for t,fr in S:
    s='\n'.join(fr)
    for name,f in CATS:
        if f(t,s): c[name]+=1; break
print("| %s | share of process samples |\n|---|---|" % sys.argv[1])
for name,_ in CATS: print("| %s | %.1f%% |"%(name,100*c[name]/n))
print("samples",n)
