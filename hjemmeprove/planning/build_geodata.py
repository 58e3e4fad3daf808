"""Rebuilds resources/geodata/islands.geojson and postcode_centroids.csv from the DAGI files.

    python -m hjemmeprove.planning.build_geodata  (reads /work/shared/geodata or GEODATA_DIR)

islands.geojson: for each island, the outline (first ring, rounded to 5 decimals) of the
smallest municipal polygon whose bounding box holds the island's probe point.
postcode_centroids.csv: per postcode the area centroid of its largest polygon (the first vertex
when the centroid falls outside it, e.g. a crescent-shaped coast).
"""
import os
import sys

os.chdir(os.path.join(os.path.dirname(__file__), "..", ".."))
SRC = os.environ.get("GEODATA_DIR", "/work/shared/geodata")
import json, csv
K = json.load(open(os.path.join(SRC, 'kommuner.geojson')))
# (name, kommunekode, probe lat, probe lon, ferry?)
ISL = [("Fanø","0563",55.40,8.40,True),("Ærø","0492",54.88,10.35,True),("Skarø","0479",55.01,10.47,True),
       ("Drejø","0479",54.973,10.40,True),("Hjortø","0479",54.964,10.485,True),("Lyø","0430",55.045,10.15,True),
       ("Avernakø","0430",55.02,10.28,True),("Bjørnø","0430",55.063,10.25,True),("Strynø","0482",54.905,10.61,True),
       ("Birkholm","0492",54.932,10.51,True),("Baagø","0420",55.31,9.81,True),("Årø","0510",55.262,9.75,True),
       ("Langeland","0482",55.0,10.8,False),("Tåsinge","0479",55.0,10.6,False)]
def inside(lat, lon, ring):
    c=False; n=len(ring); j=n-1
    for i in range(n):
        xi,yi=ring[i][0],ring[i][1]; xj,yj=ring[j][0],ring[j][1]
        if (yi>lat)!=(yj>lat) and lon < (xj-xi)*(lat-yi)/(yj-yi)+xi: c=not c
        j=i
    return c
feats=[]
for name,code,la,lo,ferry in ISL:
    found=None
    for f in K['features']:
        if f['properties']['KOMKODE']!=code: continue
        g=f['geometry']; polys=g['coordinates'] if g['type']=='MultiPolygon' else [g['coordinates']]
        for poly in polys:
            r=poly[0]; lats=[c[1] for c in r]; lons=[c[0] for c in r]
            if min(lats)<=la<=max(lats) and min(lons)<=lo<=max(lons):
                sz=(max(lats)-min(lats))*(max(lons)-min(lons))
                if found is None or sz<fsz: found=poly; fsz=sz
    assert found, name
    ring=[[round(c[0],5),round(c[1],5)] for c in found[0]]
    feats.append({"type":"Feature","properties":{"name":name,"kommunekode":int(code),"ferry":ferry},
                  "geometry":{"type":"Polygon","coordinates":[ring]}})
json.dump({"type":"FeatureCollection","features":feats}, open('resources/geodata/islands.geojson','w'), ensure_ascii=False)
P=json.load(open(os.path.join(SRC, 'postnumre.geojson')))
def area_centroid(ring):
    a=cx=cy=0
    for i in range(len(ring)-1):
        x0,y0=ring[i][0],ring[i][1]; x1,y1=ring[i+1][0],ring[i+1][1]
        cr=x0*y1-x1*y0; a+=cr; cx+=(x0+x1)*cr; cy+=(y0+y1)*cr
    if a==0: return 0,ring[0][0],ring[0][1]
    return abs(a/2), cx/(3*a), cy/(3*a)
best={}
for f in P['features']:
    p=f['properties']; g=f['geometry']
    polys=g['coordinates'] if g['type']=='MultiPolygon' else [g['coordinates']]
    for poly in polys:
        ar,x,y=area_centroid(poly[0])
        if not inside(y,x,poly[0]):
            # fall back to a vertex-average point that lies inside, else the first vertex
            x,y=poly[0][0][0],poly[0][0][1]
        key=p['POSTNR_TXT']
        if key not in best or ar>best[key][0]: best[key]=(ar,x,y,p['POSTBYNAVN'])
with open('resources/geodata/postcode_centroids.csv','w',encoding='utf-8',newline='') as fh:
    w=csv.writer(fh,delimiter=';'); w.writerow(['postnr','by','lat','lon'])
    for k in sorted(best): w.writerow([k,best[k][3],round(best[k][2],5),round(best[k][1],5)])
print(f'{len(feats)} islands, {len(best)} postcodes', file=sys.stderr)
