"""Figures for documents: checklist over the national park, type detection and storage of 20 MB."""
import io, random, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import make_app, run_cli

tmp = Path(tempfile.mkdtemp())
app = make_app(f"sqlite:///{tmp/'b.db'}", tmp)
assert run_cli(app, "bhasile", "init").exit_code == 0
assert run_cli(app, "bhasile", "demo").exit_code == 0
with app.app_context():
    from sqlalchemy import select
    from app.extensions import db
    from app.documents import missing_documents, detect_type, save_document
    from app.scope import NATIONAL
    from app.documents.storage import get_storage, new_key
    from models import Document, Structure
    from models.enums import CategorieDocument
    ids = db.session.scalars(select(Structure.id)).all()
    for label in ("no documents", "5 documents per structure"):
        t = time.perf_counter(); items = missing_documents(db.session, ids, 2026); el = time.perf_counter() - t
        print(f"missing_documents, national, {len(ids)} structures, {label}: {len(items)} missing in {el*1000:.0f} ms")
        if label == "no documents":
            rng = random.Random(1)
            cats = list(CategorieDocument)
            db.session.add_all(Document(structure_id=i, categorie=rng.choice(cats), annee=rng.choice([2024, 2025, 2026]),
                                        nom_original="x.pdf", taille=1, mime_type="application/pdf", stockage=new_key())
                               for i in ids for _ in range(5))
            db.session.commit()
    from openpyxl import Workbook
    book = Workbook(); ws = book.active
    for r in range(60000): ws.append([r, "C14001", "texte", r * 1.5])
    out = io.BytesIO(); book.save(out); xlsx = out.getvalue()
    pdf = b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024 - 9)
    csv = ("a;b;c\n" * (20 * 1024 * 1024 // 6)).encode()
    for name, data in (("xlsx", xlsx), ("pdf", pdf), ("csv", csv)):
        t = time.perf_counter(); n = 20
        for _ in range(n): detect_type(data)
        print(f"detect_type {name} {len(data)/1048576:.1f} MB: {(time.perf_counter()-t)/n*1000:.2f} ms")
    storage = get_storage(); sid = ids[0]
    t = time.perf_counter()
    for _ in range(5):
        save_document(db.session, storage, Document(structure_id=sid, categorie=CategorieDocument.AUTRE, nom_original="p.pdf",
                      taille=len(pdf), mime_type="application/pdf"), pdf, NATIONAL)
    print(f"save_document 20 MB (fsync + row + history): {(time.perf_counter()-t)/5*1000:.0f} ms each")
