"""Would another estimator than the median make the three sets stay from sweep to sweep?
Re-answers groups of sweeps offline (a Python copy of the answer's bootstrap of pooled
residuals, 2000 rounds, 95% claims) with the median, the minimum, or the mean of the lower
half of each configuration's runs, at two margins, and counts per group: the sets
(as fast / undecided / slower) per sweep, the configurations not slower in every sweep,
those that move between sets, and contradictions (as fast in one sweep, slower in another).
Usage: python3 estimators.py DIR1,DIR2,DIR3 [...]; each DIR a sweep folder (runs.jsonl).
The races were decided by the median during the sweeps; this only re-answers their rows."""
import json,sys,random,math
from collections import defaultdict
RES=2000; LEVEL=0.95
def load(d):
    by=defaultdict(list)
    for l in open(d+'/runs.jsonl'):
        r=json.loads(l)
        if not r.get('record'): continue
        by[(r['backend'],r['strategy'],r['generation'])].append(r['record']['seconds_total'])
    return by
def med(v):
    s=sorted(v); n=len(s); return s[n//2] if n%2 else (s[n//2-1]+s[n//2])/2
def lowmean(v):
    s=sorted(v); k=max(1,(len(s)+1)//2); return sum(s[:k])/k
def answer(by,est,margin):
    keys=list(by); S=[by[k] for k in keys]
    if est=='median':
        pool=[]
        for v in S:
            if len(v)<2: continue
            n=len(v); m=sum(v)/n; sc=math.sqrt(n/(n-1))
            pool+= [1+sc*(x-m)/m for x in v]
        f=med
    else:
        f=min if est=='min' else lowmean
        pool=[]
        for v in S:
            if len(v)<2: continue
            c=f(v); pool+=[x/c for x in v]
    cen=[f(v) for v in S]
    rng=random.Random(1)
    best=min(range(len(S)),key=lambda i:cen[i])
    meds=[[f([c*rng.choice(pool) for _ in v]) for v,c in zip(S,cen)] for _ in range(RES)]
    a=(1-LEVEL)/2; lim=1+margin; out={}
    for i,k in enumerate(keys):
        r=sorted(m[i]/m[best] for m in meds)
        lo=r[int(a*len(r))]; hi=r[min(int((1-a)*len(r)),len(r)-1)]
        out[k]='F' if hi<=lim else ('S' if lo>lim else 'U')
    return out
def nm(k): return f"{k[0]} {k[1]}"+('' if k[2]=='serial' else ' ov')
for group in sys.argv[1:]:
    ds=group.split(',')
    bys=[load(d) for d in ds]
    for est in ["median","min","lowmean"]:
        for margin in [0.02,0.05]:
            ans=[answer(b,est,margin) for b in bys]
            ns=[{k for k,v in a.items() if v!='S'} for a in ans]
            allk=set().union(*[set(a) for a in ans])
            contra=[k for k in allk if any(a.get(k)=='F' for a in ans) and any(a.get(k)=='S' for a in ans)]
            moved=[k for k in allk if len({a.get(k,'-') for a in ans} - {'-'})>1]
            inter=set.intersection(*ns); uni=set.union(*ns)
            print(f"{ds[0]:40} {est:8} m={margin}: F/U/S " + ' '.join(f"{sum(v=='F' for v in a.values())}/{sum(v=='U' for v in a.values())}/{sum(v=='S' for v in a.values())}" for a in ans) + f" | not-slower in all {len(inter)} union {len(uni)} | moved {len(moved)} contra {len(contra)}")
