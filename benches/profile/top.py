import sys, re, collections
# Profile of the start page and the login (benches/README.md, 2026-12-07): top inclusive functions of a `perf script` dump.
# python3 top.py dump.txt [regex of function names to show]
def samples(path):
    cur=None
    for line in open(path, errors='replace'):
        if not line.strip():
            if cur: yield cur
            cur=None; continue
        if not line.startswith('\t') and not line.startswith(' '):
            cur=(line.split()[0], [])
        else:
            parts=line.strip().split(None,1)
            cur[1].append(parts[1] if len(parts)>1 else '?')
    if cur: yield cur
S=list(samples(sys.argv[1])); n=len(S)
print("samples",n)
th=collections.Counter(s[0] for s in S)
print("threads", {k: "%.1f%%"%(100*v/n) for k,v in th.most_common()})
inc=collections.Counter(); selfc=collections.Counter()
for t,fr in S:
    selfc[fr[0] if fr else '?']+=1
    for f in set(fr): inc[f]+=1
pat=sys.argv[2] if len(sys.argv)>2 else '.'
print("--- inclusive")
for f,c in inc.most_common(400):
    if re.search(pat,f): print("%5.1f%% %s"%(100*c/n, f[:170]))
print("--- self top 30")
for f,c in selfc.most_common(30): print("%5.1f%% %s"%(100*c/n, f[:150]))
