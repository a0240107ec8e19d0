"""Articles written for the stories tests: one event told twice in other words, one apart."""

PORT = ("Dockworkers strike shuts the port of Rotterdam",
        "Rotterdam, Tuesday. Thousands of dockworkers walked out at the port of Rotterdam on "
        "Tuesday morning, halting container traffic at Europe's largest harbour. The FNV union "
        "said the strike over pay and automation would last 48 hours. Terminal operator ECT "
        "said 23 ships were waiting at anchor off Maasvlakte.")
PORT_REWRITE = ("Europe's biggest harbour at a standstill as Rotterdam dock staff stop work",
                "Container handling at Rotterdam stopped on Tuesday after the FNV union called "
                "its members out for 48 hours in a dispute about wages and automated cranes. "
                "ECT, which runs the Maasvlakte terminals, counted 23 vessels waiting at anchor.")
OTHER = ("Heavy snow closes Alpine passes",
         "Avalanche warnings were raised across the Swiss Alps after a metre of fresh snow fell "
         "overnight. The Gotthard pass stayed closed and skiers were told to keep to marked "
         "runs, the federal institute for snow research said.")
PORT_ES = ("Huelga de estibadores paraliza el puerto de Róterdam",
           "Miles de estibadores del puerto de Róterdam iniciaron el martes una huelga de 48 "
           "horas convocada por el sindicato FNV por los salarios y la automatización. El "
           "operador ECT informó de 23 barcos fondeados frente a Maasvlakte.")
