"""Hand-written French models where no French training data exists (complaint, claim).

They are ordinary linear models over the same hashed features (so they score, explain and ship
like the learned ones), with weights written here by hand on folded French words, negated words
and bigrams. They were NOT trained nor evaluated on labelled French data: treat them as rules.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from perron.enrich.linear import LinearModel

# weights are in logit units for a post of about 12 words; features are scaled by
# 1/sqrt(number of feature entries), about 1/14 for such a post, hence the large numbers.
_COMPLAINT = {
    "w": {"commande": 22, "livraison": 24, "livre": 10, "colis": 24, "rembourse": 24,
          "remboursement": 28, "remboursez": 28, "sav": 26, "facture": 18, "facturation": 18,
          "panne": 24, "retard": 22, "annule": 14, "annulation": 14, "reclamation": 28,
          "plainte": 26, "arnaque": 22, "inadmissible": 30, "inacceptable": 30, "honte": 16,
          "scandaleux": 24, "decu": 24, "decue": 24, "decevant": 22, "furieux": 22,
          "fache": 22, "fachee": 22, "nul": 16, "nulle": 16, "lamentable": 24, "attente": 16,
          "attends": 16, "client": 12, "clients": 10, "abonnement": 14, "resilier": 24,
          "resiliation": 24, "bug": 18, "bloque": 18, "casse": 18, "defectueux": 26,
          "recu": 6, "arrivee": 8, "arrive": 8, "toujours": 6, "service": 6, "aide": 4,
          "repond": 10, "reponse": 10, "personne": 6, "heures": 6, "jours": 8, "semaines": 10,
          "marche": 6, "fonctionne": 8, "probleme": 20, "souci": 14, "merci": -14,
          "bravo": -20, "super": -14, "genial": -18, "top": -10},
    "n": {"arrivee": 26, "arrive": 26, "recu": 28, "marche": 24, "fonctionne": 24,
          "repond": 24, "repondu": 24, "livre": 24, "rembourse": 24, "rien": 8},
    "b": {"service client": 20, "toujours pas": 18, "jamais recu": 24, "ne marche": 10,
          "ne fonctionne": 10, "depuis des": 10, "depuis une": 10, "depuis deux": 12},
}
_CLAIM = {
    "w": {"selon": 18, "officiel": 16, "officiellement": 18, "confirme": 18, "confirmation": 16,
          "rumeur": 20, "rumeurs": 20, "breaking": 24, "urgent": 20, "affirme": 18,
          "annonce": 12, "declare": 12, "mort": 14, "morts": 18, "attentat": 20, "victimes": 16,
          "bilan": 14, "chiffres": 12, "millions": 10, "milliards": 10, "etude": 16,
          "prouve": 20, "preuve": 16, "vaccin": 14, "fake": 14, "faux": 10, "info": 10,
          "infos": 10, "media": 8, "medias": 8, "gouvernement": 8, "ministre": 8,
          "police": 10, "arrete": 12, "otages": 18, "fusillade": 18, "explosion": 18,
          "cache": 10, "verite": 12, "revele": 18, "scandale": 10, "merci": -14,
          "je": -6, "moi": -6, "lol": -14, "mdr": -14},
    "b": {"il parait": 22, "on dit": 14, "a ete": 6, "en direct": 14},
    "s": {"<url>": 10},
}
_BIAS = {"complaint-fr": -2.6, "claim-fr": -2.6}
_LABELS = {"complaint-fr": ("complaint", "not_complaint"), "claim-fr": ("claim", "not_claim")}


def model(name: str, bucket: Callable[[str], int]) -> LinearModel:
    spec = _COMPLAINT if name == "complaint-fr" else _CLAIM
    weights: dict[int, float] = {}
    for kind, table in spec.items():
        for key, w in table.items():
            b = bucket(f"{kind}:{key}")
            weights[b] = weights.get(b, 0.0) + float(w)
    idx = np.array(sorted(weights), dtype=np.int64)
    w = np.array([[weights[i]] for i in idx], dtype=np.float32)
    task = name.split("-")[0]
    lm = LinearModel(name, task, "fr", _LABELS[name], idx, w,
                     np.array([_BIAS[name]], dtype=np.float32))
    lm.meta = {"kind": "hand-written keyword weights", "training_data": [],
               "note": "no French training data: rules written by hand, not evaluated on "
                       "labelled French posts"}
    return lm
