const N = 272727, names = ['date','delay','distance','origin','destination'];
const cols = [new Float64Array(N).fill(9.7e11), new Float64Array(N).fill(33), Array(N).fill(2176), Array(N).fill('LAS'), Array(N).fill('PHL')];
function dyn(from, to) { const out = new Array(to-from); for (let i=from;i<to;i++){ const v={}; for (let c=0;c<names.length;c++) v[names[c]]=cols[c][i]; out[i-from]={offset:i, value:v} } return out }
const body = 'return {' + names.map((n,c)=>`${JSON.stringify(n)}: a${c}[i]`).join(',') + '}';
const make = new Function(...names.map((_,c)=>'a'+c), 'i', body);
function gen(from, to) { const out = new Array(to-from); for (let i=from;i<to;i++){ out[i-from]={offset:i, value:make(cols[0],cols[1],cols[2],cols[3],cols[4],i)} } return out }
const tmpl = Object.fromEntries(names.map(n=>[n,null]));
function spread(from,to){ const out = new Array(to-from); for (let i=from;i<to;i++){ const v={...tmpl}; for (let c=0;c<names.length;c++) v[names[c]]=cols[c][i]; out[i-from]={offset:i, value:v} } return out }
for (const [name, f] of [['dyn',dyn],['gen',gen],['spread',spread],['dyn',dyn],['gen',gen],['spread',spread]]) {
  const t=performance.now(); let k=0; for (let r=0;r<11;r++) for (let s=0;s<N;s+=4096) k+=f(s, Math.min(N,s+4096)).length; console.log(name, (performance.now()-t).toFixed(0), k)
}
const body2 = 'return {' + names.map((n,c)=>`${JSON.stringify(n)}: c[${c}][i]`).join(',') + '}';
const make2 = new Function('c', 'i', body2);
function gen2(from, to) { const out = new Array(to-from); for (let i=from;i<to;i++){ out[i-from]={offset:i, value:make2(cols,i)} } return out }
for (const f of [gen2, gen2]) { const t=performance.now(); let k=0; for (let r=0;r<11;r++) for (let s=0;s<N;s+=4096) k+=f(s, Math.min(N,s+4096)).length; console.log('gen2', (performance.now()-t).toFixed(0), k) }
